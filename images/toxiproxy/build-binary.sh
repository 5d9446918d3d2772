#!/usr/bin/env bash
# Toxiproxy's server and CLI, built on the host with the machine's Go into
# ./bin (toxiproxy-server, toxiproxy-cli), for the local image's build (which
# must not need the network). No registry serves the upstream image here, and
# no Debian package carries Toxiproxy; its Go module does come through Go's
# ordinary client (`go install`, with the host's GOPROXY/GOFLAGS/GOSUMDB).
#
# Built as upstream's release builds are (.goreleaser.yml of v2.5.0): static
# (CGO_ENABLED=0), stripped (-s -w), the version stamped into
# toxiproxy.Version so `-version` reports it (a plain `go install` says "git").
#
# Idempotent: binaries that already report VERSION are kept.
# Usage: images/toxiproxy/build-binary.sh
set -euo pipefail
cd "$(dirname "$0")"

VERSION=2.5.0
MODULE=github.com/Shopify/toxiproxy/v2
BIN=bin

say() { printf '[toxiproxy] %s\n' "$*" >&2; }

# have NAME FLAG: bin/NAME exists, runs, and reports VERSION.
have() {
  [ -x "$BIN/$1" ] && [ "$("$BIN/$1" "$2" 2>/dev/null)" = "$1 version $VERSION" ]
}

if have toxiproxy-server -version && have toxiproxy-cli --version; then
  say "binaries already at $VERSION in $(pwd)/$BIN"
  exit 0
fi

command -v go >/dev/null || { say "ERROR: go not found (https://go.dev/doc/install, or Debian: apt-get install golang-go)"; exit 1; }

say "building toxiproxy-server and toxiproxy-cli $VERSION with $(go version | cut -d' ' -f3) (the first run downloads the module)"
# Install into a temporary folder and swap it in, so an interrupted run never
# leaves a half-built bin/ that a later image build would copy.
tmp=$(mktemp -d "$PWD/.bin.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# GOBIN must be absolute. GOOS/GOARCH from the environment are honoured (the
# default, the host's, is what the host's Docker engine runs).
GOBIN="$tmp" CGO_ENABLED=0 go install -trimpath \
  -ldflags="-s -w -X $MODULE.Version=$VERSION" \
  "$MODULE/cmd/server@v$VERSION" "$MODULE/cmd/cli@v$VERSION"
mv "$tmp/server" "$tmp/toxiproxy-server"
mv "$tmp/cli" "$tmp/toxiproxy-cli"
rm -rf "$BIN"
mv "$tmp" "$BIN"
trap - EXIT
chmod 755 "$BIN"
if ! { have toxiproxy-server -version && have toxiproxy-cli --version; }; then
  say "ERROR: the built binaries do not report version $VERSION"; exit 1
fi
say "built $(pwd)/$BIN/toxiproxy-server and toxiproxy-cli ($(du -sh "$BIN" | cut -f1))"
