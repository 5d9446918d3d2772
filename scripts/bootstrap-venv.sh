#!/usr/bin/env bash
# Create the project's Python environment (.venv) from requirements.lock.
# uv itself is pinned in the lock; it is bootstrapped with pip into .venv, then
# `uv pip sync` makes .venv hold exactly what the lock says, hashes checked.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[venv] %s\n' "$*" >&2; }

uv_version=$(sed -n 's/^uv==\([^ ;]*\).*/\1/p' requirements.lock)

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "ERROR: Python 3.11 or newer is needed as python3 (found: $(python3 --version 2>&1))"; exit 1
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing python3-venv from Debian's packages (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    say "ERROR: python3 cannot create virtual environments; install python3-venv"; exit 1
  fi
fi
if [ ! -x .venv/bin/uv ] || [ "$(.venv/bin/uv --version | cut -d' ' -f2)" != "$uv_version" ]; then
  say "creating .venv with uv $uv_version"
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$uv_version"
fi
# uv uses the system's trust store, so TLS-inspecting proxies work as they do for pip.
UV_NATIVE_TLS=1 .venv/bin/uv pip sync --quiet --python .venv/bin/python --require-hashes requirements.lock

# The host imports the services' modules (order_events.model, pricing.rules) and the generated
# gRPC stubs (sandbox.pricing.v1) by the names they have in the image, whose PYTHONPATH is
# /app:/app/generated. One .pth file lists the same two folders, services/ and
# .sandbox/generated/ (`make protos` fills it): Python's site module reads it once at start-up
# (plain paths, no code runs), so no module edits sys.path when it is imported. Not an editable
# install of the repo: that needs a build backend and a package mapping to say the same thing,
# `uv pip sync` removes it again, and the generated stubs are no package of the project's.
repo=$(pwd -P)
site_packages=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
printf '%s\n' "# Written by scripts/bootstrap-venv.sh: the image's PYTHONPATH, on the host." \
  "$repo/services" "$repo/.sandbox/generated" >"$site_packages/comms_sandbox.pth"
say "Python environment ready (.venv, from requirements.lock; services/ and .sandbox/generated/ on its path)"
