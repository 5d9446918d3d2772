#!/usr/bin/env bash
# Download the services' hash-pinned wheels on the host into services/wheels/,
# so that `docker build` installs them with no network inside the build.
# The wheels are for the engine's architecture and Debian 12's glibc (2.36),
# not the host's, so this also works from a macOS or arm64 host.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=$(docker info --format '{{.Architecture}}' 2>/dev/null || uname -m)
case "$arch" in arm64) arch=aarch64 ;; amd64) arch=x86_64 ;; esac

# pip does not widen one manylinux tag to older ones: list each glibc 2.17..2.36.
platforms=(--platform "manylinux2014_$arch")
for minor in $(seq 17 36); do platforms+=(--platform "manylinux_2_${minor}_$arch"); done

locks=(services/requirements/service.lock services/requirements/codegen.lock
       services/requirements/rtcpeer.lock services/requirements/wire.lock)
stamp=services/wheels/.stamp
wanted="$arch $(cat "${locks[@]}" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then exit 0; fi

echo "[wheels] downloading pinned wheels for linux/$arch into services/wheels/" >&2
rm -f services/wheels/*.whl
.venv/bin/python -m pip download --quiet --disable-pip-version-check \
  --only-binary=:all: --python-version 3.11 --implementation cp "${platforms[@]}" \
  --require-hashes --no-deps -d services/wheels \
  "${locks[@]/#/-r}"
echo "$wanted" >"$stamp"
