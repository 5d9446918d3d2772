#!/bin/sh
# Generate the Python gRPC stubs for every .proto below this folder.
# Usage: generate.sh OUT_DIR [PYTHON]   (PYTHON must have grpcio-tools)
# Used by the image build and by the host (`make protos`: comms_sandbox/protos.py), so both agree.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$1
python=${2:-python3}
mkdir -p "$out"
# shellcheck disable=SC2046 # one argument per .proto file is intended
"$python" -m grpc_tools.protoc -I "$here" \
  --python_out="$out" --grpc_python_out="$out" --pyi_out="$out" \
  $(find "$here" -name '*.proto' | sort)
