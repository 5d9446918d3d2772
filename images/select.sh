#!/usr/bin/env bash
# Decide which images compose.yaml runs, and make sure they exist.
#
#   SANDBOX_IMAGES=upstream  the pinned upstream images named in compose.yaml
#   SANDBOX_IMAGES=local     equivalents built here from Debian packages
#   SANDBOX_IMAGES=auto      (default) upstream when they are present or can be
#                            pulled, local otherwise
# Writes the choice to .sandbox/images.env, which `make` hands to compose.
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_FILE=.sandbox/images.env
mode=${SANDBOX_IMAGES:-auto}
say() { printf '[images] %s\n' "$*" >&2; }

# The upstream image names, read from compose.yaml's defaults: one source of truth.
upstream_images() {
  grep -oE '\$\{[A-Z_]+_IMAGE:-[^}]+\}' compose.yaml | sed -E 's/.*:-(.*)\}/\1/' | sort -u
}

have_or_pull_upstream() {
  local image
  for image in $(upstream_images); do
    docker image inspect "$image" >/dev/null 2>&1 && continue
    say "pulling $image"
    timeout 300 docker pull -q "$image" >/dev/null 2>&1 || return 1
  done
}

use_upstream() {
  mkdir -p .sandbox
  printf '# Written by images/select.sh: the upstream images named in compose.yaml.\n' >"$ENV_FILE"
  say "using the upstream images: $(upstream_images | tr '\n' ' ')"
}

use_local() {
  say "building local equivalents from Debian packages, PyPI wheels and Maven Central jars"
  images/build-local.sh "$ENV_FILE"
}

# Either way our service image installs wheels fetched on the host, so its
# `docker build` needs no network (nor any certificate).
images/fetch-wheels.sh

case "$mode" in
  upstream) have_or_pull_upstream || { say "ERROR: cannot pull the upstream images; try SANDBOX_IMAGES=local"; exit 1; }
            use_upstream ;;
  local)    use_local ;;
  auto)     if have_or_pull_upstream; then use_upstream
            else say "no registry reachable: falling back to local images"; use_local; fi ;;
  *)        say "ERROR: SANDBOX_IMAGES must be auto, upstream or local (got '$mode')"; exit 1 ;;
esac
