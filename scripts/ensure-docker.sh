#!/usr/bin/env bash
# Make sure a Docker engine and the Compose v2 plugin answer.
#
# Where an engine already answers, this changes nothing. On a Debian host run
# as root it installs the engine from Debian's packages (docker.io), the
# Compose v2 plugin from Debian 13's docker-compose package (Debian 12 only
# ships Compose v1), and starts dockerd. Anywhere else it stops and says what
# is missing. Every action is printed, so nobody is surprised by an install.
set -euo pipefail

say() { printf '[engine] %s\n' "$*" >&2; }
die() { printf '[engine] ERROR: %s\n' "$*" >&2; exit 1; }

engine_answers() { docker info >/dev/null 2>&1; }
compose_v2_answers() { docker compose version >/dev/null 2>&1; }

# compose.yaml pulls each lesson's compose file in with `include:`, which
# Compose has since 2.20.0.
COMPOSE_MINIMUM=2.20.0
compose_version() { docker compose version --short 2>/dev/null | sed 's/^v//; s/[-+].*//'; }
compose_recent_enough() {
  local have
  have=$(compose_version)
  [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$COMPOSE_MINIMUM" "$have" | sort -V | head -n 1)" = "$COMPOSE_MINIMUM" ]
}

can_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && grep -qi debian /etc/os-release
}

# The mirror comes from the machine's own apt sources, never hard-coded.
debian_mirror() {
  local uri
  uri=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -v security | head -n 1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null \
          | awk '{print $2}' | grep -v security | head -n 1 || true)
  fi
  [ -n "$uri" ] || die "cannot find a Debian mirror in /etc/apt/sources*"
  echo "$uri"
}

install_engine() {
  say "no Docker engine found: installing docker.io from Debian's packages (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
}

# Debian 13 ships Compose v2 as a static binary; fetch that one .deb with a
# private apt state so nothing of Debian 13 is installed system-wide.
install_compose_plugin() {
  local work mirror deb
  say "Compose v2 missing: taking the plugin from Debian 13's docker-compose package"
  work=$(mktemp -d)
  mirror=$(debian_mirror)
  mkdir -p "$work"/{lists/partial,cache/archives/partial,etc}
  printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" >"$work/etc/trixie.sources"
  local opts=(-o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
              -o "APT::Sandbox::User=root"
              -o "Dir::Etc::SourceList=/dev/null"
              -o "Dir::Etc::SourceParts=$work/etc" -o "Debug::NoLocking=1")
  apt-get "${opts[@]}" update -qq
  (cd "$work" && apt-get "${opts[@]}" download docker-compose >/dev/null)
  deb=$(ls "$work"/docker-compose_*.deb)
  dpkg-deb -x "$deb" "$work/root"
  install -D -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" \
    /usr/local/lib/docker/cli-plugins/docker-compose
  rm -rf "$work"
  say "installed $(docker compose version)"
}

# Start dockerd whenever none runs (one may also be still starting, or still
# dying after a kill), and wait up to a minute for the engine to answer.
run_engine() {
  local starts=0
  for _ in $(seq 1 60); do
    engine_answers && { say "engine is up: $(docker info --format '{{.ServerVersion}}')"; return; }
    if ! pgrep -x dockerd >/dev/null && [ "$starts" -lt 3 ]; then
      say "starting dockerd in the background (log: /var/log/dockerd.log)"
      nohup dockerd >>/var/log/dockerd.log 2>&1 &
      starts=$((starts + 1))
    fi
    sleep 1
  done
  die "dockerd did not answer within 60 s; see /var/log/dockerd.log"
}

# Docker engines before 28.0 let hosts on the same network reach ports
# published on 127.0.0.1 by sending packets addressed to 127.0.0.1 to this
# host (moby issue 45610). 28.0 drops those itself; for older engines add the
# same rule: nothing addressed to loopback may arrive on another interface.
protect_loopback_ports() {
  local major
  major=$(docker version --format '{{.Server.Version}}' 2>/dev/null | cut -d. -f1)
  [ -n "$major" ] && [ "$major" -lt 28 ] || return 0
  [ "$(id -u)" = 0 ] && command -v iptables >/dev/null || {
    say "WARNING: Docker engine $major.x forwards 127.0.0.1-published ports to the LAN (moby#45610); as root, this script would add a firewall rule"
    return 0
  }
  iptables -t raw -C PREROUTING ! -i lo -d 127.0.0.0/8 -j DROP 2>/dev/null && return 0
  say "engine $major.x: adding iptables rule (raw PREROUTING: drop packets to 127.0.0.0/8 not from lo), as Docker 28 does (moby#45610)"
  iptables -t raw -I PREROUTING ! -i lo -d 127.0.0.0/8 -j DROP
}

main() {
  command -v docker >/dev/null || ! can_install || install_engine
  command -v docker >/dev/null || die "no docker client. Install Docker Engine: https://docs.docker.com/engine/install/"
  if ! engine_answers; then
    can_install || die "no Docker engine answers. Start Docker (Docker Desktop, or 'sudo systemctl start docker') and try again."
    command -v dockerd >/dev/null || install_engine
    run_engine
  fi
  if ! compose_v2_answers; then
    can_install || die "Docker Compose v2 is missing. Install the compose plugin: https://docs.docker.com/compose/install/linux/"
    install_compose_plugin
  fi
  if ! compose_recent_enough; then
    can_install || die "Docker Compose $(compose_version) is older than $COMPOSE_MINIMUM, which compose.yaml needs (include:). Update the compose plugin: https://docs.docker.com/compose/install/linux/"
    say "Compose $(compose_version) is older than $COMPOSE_MINIMUM (compose.yaml uses include:): replacing it"
    install_compose_plugin
    compose_recent_enough || die "Compose is still $(compose_version); $COMPOSE_MINIMUM or later is needed"
  fi
  say "Compose $(compose_version) (include: needs $COMPOSE_MINIMUM or later)"
  protect_loopback_ports
}

main "$@"
