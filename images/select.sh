#!/usr/bin/env bash
# Decide which images the compose files run, and make sure the named ones exist.
#
#   images/select.sh [NAME...]   NAME: python nginx rabbitmq redis kafka zipkin
#                                prometheus toxiproxy coturn loadgen postgres
#                                pgbouncer squid capture hydra (none: all)
#
#   SANDBOX_IMAGES=upstream  the pinned upstream images named in the compose files
#   SANDBOX_IMAGES=local     equivalents built here from Debian packages
#   SANDBOX_IMAGES=auto      (default) upstream when they are present or can be
#                            pulled, local otherwise; once chosen, the choice is
#                            kept in .sandbox/images.env for the next images
# Only the named images are pulled or built: `make up` names what the services
# it starts need (comms_sandbox/images.py), so a lesson's images come on its
# first use. Writes the choice to .sandbox/images.env, which `make` hands to compose.
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_FILE=.sandbox/images.env
mode=${SANDBOX_IMAGES:-auto}
names=("$@")
say() { printf '[images] %s\n' "$*" >&2; }

# The variable of compose's image for NAME: nginx is the proxy's image, python
# and loadgen are the bases our own images are built on.
variable_of() {
  case $1 in
    nginx) echo PROXY_IMAGE ;;
    loadgen) echo LOADGEN_BASE ;;
    *) echo "${1^^}_IMAGE" ;;
  esac
}

# The upstream image names, read from the compose files' defaults (one source
# of truth), of the named images or of all.
upstream_images() {
  local pattern='[A-Z_]+_(IMAGE|BASE)' name
  if [[ ${#names[@]} -gt 0 ]]; then
    pattern="($(for name in "${names[@]}"; do variable_of "$name"; done | paste -sd'|'))"
  fi
  grep -ohE "\\\$\{$pattern:-[^}]+\}" compose.yaml compose.templates.yaml scenarios/*/compose.yaml \
    | sed -E 's/.*:-(.*)\}/\1/' | sort -u
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
  say "using the upstream images: $(upstream_images | tr '\n' ' ')"
  local text
  text=$(printf '# Written by images/select.sh: the upstream images named in the compose files.\nSANDBOX_IMAGES_CHOSEN=upstream')
  # Only when it differs, and by a rename: see build-local.sh's write_if_changed.
  [[ -f $ENV_FILE && $(cat "$ENV_FILE") == "$text" ]] && return 0
  printf '%s\n' "$text" >"$ENV_FILE.$$"
  mv -f "$ENV_FILE.$$" "$ENV_FILE"
}

use_local() {
  say "building local equivalents from Debian packages, PyPI wheels and Maven Central jars: ${names[*]:-all}"
  images/build-local.sh "$ENV_FILE" "${names[@]}"
}

# auto keeps an earlier choice: probing a registry again for each lesson would
# cost a timeout per image on a machine without one.
if [[ $mode == auto && -f $ENV_FILE ]]; then
  chosen=$(sed -n 's/^SANDBOX_IMAGES_CHOSEN=//p' "$ENV_FILE")
  [[ -z $chosen ]] || mode=$chosen
fi

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
