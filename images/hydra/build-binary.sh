#!/usr/bin/env bash
# Ory Hydra, built on the host with the machine's Go into ./bin/hydra, for the
# local image's build (which must not need the network). No registry serves
# the upstream image here and no Debian package carries Hydra; its Go module
# comes through Go's ordinary client (the host's GOPROXY/GOFLAGS/GOSUMDB).
#
# `go install github.com/ory/hydra/v2@v2.3.0` is refused: Hydra's go.mod has
# replace directives. So ./module is a wrapper module whose go.mod names Hydra
# as a tool (`go get -tool`), copies the one replace that the module proxy
# serves (pop/v6), and whose go.sum pins every module's hash. (Hydra's other
# replace points at a folder its module zip leaves out; without it Go takes
# hydra-client-go v2.2.1, which Hydra v2.3.0 builds and runs with.)
#
# Built as upstream's Dockerfile-local-build builds it: CGO with SQLite (the
# `sqlite` tags: DSN=memory needs it), static (`-extldflags -static`, with
# netgo and osusergo so glibc's resolver and user lookups are not needed),
# the version stamped so `hydra version` reports it.
#
# Idempotent: a binary that already reports VERSION is kept.
# Usage: images/hydra/build-binary.sh
set -euo pipefail
cd "$(dirname "$0")"

VERSION=v2.3.0
MODULE=github.com/ory/hydra/v2
BIN=bin

say() { printf '[hydra] %s\n' "$*" >&2; }

# The output is read whole before grep looks: `hydra version | grep -q` under pipefail
# failed whenever grep left early and hydra's last write got SIGPIPE (exit 141).
have() {
  local said
  [ -x "$BIN/hydra" ] && said=$("$BIN/hydra" version 2>/dev/null) &&
    grep -q "Version:[[:space:]]*$VERSION\$" <<<"$said"
}

if have; then
  say "binary already at $VERSION in $(pwd)/$BIN"
  exit 0
fi

command -v go >/dev/null || { say "ERROR: go not found (https://go.dev/doc/install, or Debian: apt-get install golang-go)"; exit 1; }
command -v gcc >/dev/null || { say "ERROR: gcc not found (Debian: apt-get install gcc libc6-dev): Hydra's SQLite needs cgo"; exit 1; }

say "building hydra $VERSION with $(go version | cut -d' ' -f3) (the first run downloads the modules, about 90 MB, and takes minutes)"
tmp=$(mktemp -d "$PWD/.bin.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
config=$MODULE/driver/config
ldflags="-s -w -extldflags -static -X $config.Version=$VERSION -X $config.Commit=$VERSION-gomod"
ldflags+=" -X $config.Date=$(date -u -d "@${SOURCE_DATE_EPOCH:-1735689600}" +%Y-%m-%dT%H:%M:%SZ)"
# -mod=readonly: go.sum must already hold every hash; a missing one is an error, not a fetch.
(cd module && CGO_ENABLED=1 go build -mod=readonly -trimpath \
  -tags sqlite,sqlite_omit_load_extension,netgo,osusergo \
  -ldflags "$ldflags" -o "$tmp/hydra" "$MODULE")
rm -rf "$BIN"
mv "$tmp" "$BIN"
trap - EXIT
chmod 755 "$BIN"
have || { say "ERROR: the built binary does not report version $VERSION"; exit 1; }
say "built $(pwd)/$BIN/hydra ($(du -sh "$BIN" | cut -f1))"
