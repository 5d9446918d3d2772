#!/usr/bin/env bash
# Build local equivalents of the upstream images, for machines that cannot
# pull from a container registry.
#
# Each image starts from a Debian rootfs made by mmdebstrap from Debian's
# packages (it reuses the host's apt sources), imported into Docker; a small
# Dockerfile next to the component's config then adds what the upstream image
# does (user, entrypoint, paths). Nothing inside `docker build` touches the
# network: Python wheels and Kafka's and Zipkin's jars are fetched, and
# Toxiproxy's Go binaries built, on the host first.
#
# Usage: images/build-local.sh ENV_FILE [NAME...]
# Builds the named images (python nginx rabbitmq redis kafka zipkin prometheus
# toxiproxy coturn loadgen postgres pgbouncer squid capture hydra; all of them when none is named), only those
# missing or out of date, and writes the image names compose.yaml should use
# into ENV_FILE: all of them, built or not, so `docker compose` always sees
# one consistent choice. `make up` names only what the services it starts
# need (comms_sandbox/images.py): a lesson's images are built on its first use.
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_FILE=${1:-.sandbox/images.env}
PREFIX=comms-sandbox
SUITE=bookworm
# Suites other than the default, per base. nginx comes from Debian testing:
# the proxy's upstreams re-resolve Docker DNS names (`server ... resolve`),
# which open-source nginx has only since 1.27.3; Debian 12 and 13 ship 1.22
# and 1.26. The upstream image compose.yaml names (nginx 1.28) has it too.
# Prometheus comes from Debian 13 (trixie): 2.53.3, the newest Debian build
# that still has a web UI (the classic one; forky's 3.5.3 ships none at all,
# bookworm's is 2.42). PostgreSQL comes from Debian 13 too: 17, the major
# version of the upstream image compose.yaml names (bookworm has 15).
# PgBouncer too: Debian 13's 1.24 (bookworm's 1.18 has no prepared-statement
# tracking in transaction pooling, which upstream's 1.25 has on by default).
declare -A SUITES=([nginx]=forky [prometheus]=trixie [postgres]=trixie [pgbouncer]=trixie)
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

# The Debian packages each local image starts from.
# busybox gives the local images the `wget` that the upstream images' busybox
# has, so one healthcheck command works with either.
declare -A PACKAGES=(
  # iptables: for the on-the-wire lesson's loss client (services/Dockerfile, target wire)
  [python]="python3 python3-venv ca-certificates iptables"
  [nginx]="nginx libnginx-mod-stream libnginx-mod-http-js"
  [rabbitmq]="rabbitmq-server"
  [redis]="redis-server redis-tools"
  [kafka]="openjdk-17-jre-headless"
  [zipkin]="openjdk-17-jre-headless busybox unzip"
  [prometheus]="prometheus busybox"
  [loadgen]="wrk"  # `make bench` only (images/loadgen)
  [coturn]="coturn"  # the WebRTC lesson's STUN/TURN server
  [postgres]="postgresql-17"  # where the orders live (images/postgres)
  [pgbouncer]="pgbouncer postgresql-client-17"  # lesson databases' pooler (images/pgbouncer)
  [squid]="squid"  # lesson proxies' forward proxy (images/squid)
  [capture]="tshark tcpdump"  # packet captures, any lesson (images/capture)
  # Toxiproxy is two static Go binaries (images/toxiproxy/build-binary.sh):
  # minbase is enough; ca-certificates for a CLI given an https TOXIPROXY_URL.
  [toxiproxy]="ca-certificates"
  # Hydra is one static Go binary (images/hydra/build-binary.sh); busybox for `wget`.
  [hydra]="ca-certificates busybox"
)
# Files a base leaves out (dpkg path-exclude globs) besides docs, man pages
# and translations. Prometheus' classic UI loads one moment-timezone file;
# the package's data/ folder beside it is 212 MB of JSON nothing reads.
declare -A EXCLUDES=(
  [prometheus]="/usr/share/javascript/moment-timezone/data/*"
)

suite_of() { echo "${SUITES[$1]:-$SUITE}"; }
# What a base is made of besides its suite: the package list, plus any excludes.
base_recipe() {
  printf '%s' "${PACKAGES[$1]}"
  [[ -z ${EXCLUDES[$1]:-} ]] || printf ' exclude=%s' "${EXCLUDES[$1]}"
}
# base-NAME:SUITE-HASH, HASH the first 8 hex digits of the recipe's sha256:
# changing a package list makes a new tag, so the next run builds a new base
# instead of reusing a stale one. (Old tags stay until removed by hand.)
base_tag() {
  local hash
  hash=$(base_recipe "$1" | sha256sum | cut -c1-8)
  echo "$PREFIX/base-$1:$(suite_of "$1")-$hash"
}

# base_rootfs NAME PACKAGES...: a minbase Debian with PACKAGES, imported as base_tag NAME.
base_rootfs() {
  local name=$1; shift
  local tag suite
  tag=$(base_tag "$name")
  suite=$(suite_of "$name")
  image_exists "$tag" && return
  say "building $tag from Debian $suite packages: $*"
  local include
  include=$(IFS=,; echo "$*")
  # read -a splits on spaces without expanding the globs against the host's files.
  local globs=() excludes=() glob
  read -r -a globs <<<"${EXCLUDES[$name]:-}"
  for glob in "${globs[@]}"; do
    excludes+=(--dpkgopt="path-exclude=$glob")
  done
  # A mirror frozen in time (a snapshot, a local cache) serves a testing
  # Release file past its one-week Valid-Until; the packages are still signed.
  local valid_until=()
  [[ $suite == "$SUITE" ]] || valid_until=(--aptopt='Acquire::Check-Valid-Until "false"')
  local tarball
  tarball=$(mktemp --suffix=.tar)
  # Import only a complete rootfs: a failed mmdebstrap must not leave an empty image.
  # Java's postinst needs man1 to exist even though man pages are left out.
  # shellcheck disable=SC2016 # $1 is expanded by mmdebstrap (the rootfs path), not here
  mmdebstrap --quiet --variant=minbase --include="$include" \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "${excludes[@]}" \
    --setup-hook='mkdir -p "$1/usr/share/man/man1"' \
    "${valid_until[@]}" "$suite" "$tarball"
  docker import --message "mmdebstrap $suite: $*" "$tarball" "$tag" >/dev/null
  rm -f "$tarball"
}

# The missing bases of the named images at once: mostly download and dpkg
# time, which overlaps well.
build_bases() {
  local name pids=()
  for name in "$@"; do
    image_exists "$(base_tag "$name")" && continue
    ensure_mmdebstrap
    break
  done
  for name in "$@"; do
    # shellcheck disable=SC2086 # the package list is meant to split into words
    base_rootfs "$name" ${PACKAGES[$name]} &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
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

# What an image needs on the host before its `docker build` (jars, Go binaries).
declare -A PREPARE=(
  [kafka]=images/kafka/fetch-jars.sh
  [zipkin]=images/zipkin/fetch-jars.sh
  [toxiproxy]=images/toxiproxy/build-binary.sh
  [hydra]=images/hydra/build-binary.sh
)

# build_named NAME: the image NAME, on its base. python and loadgen are bases
# only: the service and loadgen images are built by Compose on top of them.
build_named() {
  local name=$1
  case $name in python | loadgen) return ;; esac
  [[ -z ${PREPARE[$name]:-} ]] || "${PREPARE[$name]}"
  build_image "$PREFIX/$name:local" "images/$name" "$(base_tag "$name")"
}

# Stdin into FILE, only when it differs, and by a rename: a compose call reading
# it at the same time (the other test lane's, tests/lanes.py) never sees half of
# it, and a file that does not change keeps its time.
write_if_changed() {
  local file=$1 text
  text=$(cat)
  [[ -f $file && $(cat "$file") == "$text" ]] && return 0
  printf '%s\n' "$text" >"$file.$$"
  mv -f "$file.$$" "$file"
}

main() {
  mkdir -p "$(dirname "$ENV_FILE")"
  local names=("$@") name
  [[ ${#names[@]} -gt 0 ]] || names=("${!PACKAGES[@]}")
  for name in "${names[@]}"; do
    [[ -n ${PACKAGES[$name]:-} ]] || { say "ERROR: no local image named '$name' (known: ${!PACKAGES[*]})"; exit 2; }
  done
  build_bases "${names[@]}"
  for name in "${names[@]}"; do build_named "$name"; done

  write_if_changed "$ENV_FILE" <<ENV
# Written by images/build-local.sh: images built here from Debian packages
# (each on first use: comms_sandbox/images.py).
SANDBOX_IMAGES_CHOSEN=local
PYTHON_IMAGE=$(base_tag python)
PROXY_IMAGE=$PREFIX/nginx:local
RABBITMQ_IMAGE=$PREFIX/rabbitmq:local
REDIS_IMAGE=$PREFIX/redis:local
KAFKA_IMAGE=$PREFIX/kafka:local
ZIPKIN_IMAGE=$PREFIX/zipkin:local
PROMETHEUS_IMAGE=$PREFIX/prometheus:local
TOXIPROXY_IMAGE=$PREFIX/toxiproxy:local
COTURN_IMAGE=$PREFIX/coturn:local
POSTGRES_IMAGE=$PREFIX/postgres:local
PGBOUNCER_IMAGE=$PREFIX/pgbouncer:local
SQUID_IMAGE=$PREFIX/squid:local
CAPTURE_IMAGE=$PREFIX/capture:local
HYDRA_IMAGE=$PREFIX/hydra:local
LOADGEN_BASE=$(base_tag loadgen)
ENV
  say "local images ready (${names[*]}); compose variables in $ENV_FILE"
}

main "${@:2}"
