#!/usr/bin/env bash
# Build local equivalents of the upstream images, for machines that cannot
# pull from a container registry.
#
# Each image starts from a Debian rootfs made by mmdebstrap from Debian's
# packages (it reuses the host's apt sources), imported into Docker; a small
# Dockerfile next to the component's config then adds what the upstream image
# does (user, entrypoint, paths). Nothing inside `docker build` touches the
# network: Python wheels and Kafka's jars are fetched on the host first.
#
# Usage: scripts/local-images.sh [ENV_FILE]
# Writes the image names compose.yaml should use into ENV_FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_FILE=${1:-.sandbox/images.env}
PREFIX=comms-sandbox
SUITE=bookworm
# A fixed timestamp keeps rootfs builds reproducible (mmdebstrap honours it).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1735689600}

say() { printf '[images] %s\n' "$*" >&2; }

ensure_mmdebstrap() {
  command -v mmdebstrap >/dev/null && return
  say "installing mmdebstrap from Debian's packages (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# base_rootfs NAME PACKAGES...: a minbase Debian with PACKAGES, as an image.
base_rootfs() {
  local name=$1; shift
  local tag="$PREFIX/base-$name:$SUITE"
  if image_exists "$tag"; then echo "$tag"; return; fi
  ensure_mmdebstrap
  say "building $tag from Debian's packages: $*"
  local include
  include=$(IFS=,; echo "$*")
  local tarball
  tarball=$(mktemp --suffix=.tar)
  # Import only a complete rootfs: a failed mmdebstrap must not leave an empty image.
  # Java's postinst needs man1 to exist even though man pages are left out.
  mmdebstrap --quiet --variant=minbase --include="$include" \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --setup-hook='mkdir -p "$1/usr/share/man/man1"' \
    "$SUITE" "$tarball"
  docker import --message "mmdebstrap $SUITE: $*" "$tarball" "$tag" >/dev/null
  rm -f "$tarball"
  echo "$tag"
}

# build_image TAG DIR BASE: docker build of DIR/Dockerfile on top of BASE.
build_image() {
  local tag=$1 dir=$2 base=$3
  say "building $tag from $dir/Dockerfile"
  # Without the buildx plugin the docker CLI uses the legacy builder, which is
  # all these no-network builds need; keep its deprecation notice out of the way.
  docker build --quiet --build-arg "BASE=$base" -t "$tag" "$dir" 2>&1 >/dev/null \
    | { grep -vE 'DEPRECATED|buildx|^\s*$' || true; } >&2
}

main() {
  mkdir -p "$(dirname "$ENV_FILE")"
  local python nginx rabbitmq kafka
  python=$(base_rootfs python python3 python3-venv ca-certificates)
  nginx=$(base_rootfs nginx nginx-core libnginx-mod-stream)
  rabbitmq=$(base_rootfs rabbitmq rabbitmq-server)
  kafka=$(base_rootfs kafka openjdk-17-jre-headless)

  build_image "$PREFIX/nginx:local" proxy/image "$nginx"
  build_image "$PREFIX/rabbitmq:local" broker/rabbitmq/image "$rabbitmq"
  broker/kafka/image/fetch-jars.sh
  build_image "$PREFIX/kafka:local" broker/kafka/image "$kafka"

  cat >"$ENV_FILE" <<ENV
# Written by scripts/local-images.sh: images built here from Debian packages.
PYTHON_IMAGE=$python
PROXY_IMAGE=$PREFIX/nginx:local
RABBITMQ_IMAGE=$PREFIX/rabbitmq:local
KAFKA_IMAGE=$PREFIX/kafka:local
ENV
  say "local images ready; compose variables in $ENV_FILE"
}

main "$@"
