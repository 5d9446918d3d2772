#!/usr/bin/env bash
# Resolve the runtime jars of DIR/pom.xml from Maven's default repositories
# into DIR/jars, on the host.
#
# Why on the host: image builds must not need the network, and HTTPS from
# inside containers fails on machines whose TLS trust comes from a host CA
# bundle. mvn on the host uses the host's trust store and proxy settings.
#
# Idempotent: a stamp holding the pom's hash makes a second run a no-op.
# Usage: images/fetch-jars.sh DIR LABEL
set -euo pipefail

dir=$1 label=$2
cd "$dir"
JARS=jars
STAMP="$JARS/.pom.sha256"

say() { printf '[%s] %s\n' "$label" "$*" >&2; }

want=$(sha256sum pom.xml | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  say "jars already match pom.xml ($(find "$JARS" -name '*.jar' | wc -l) jars)"
  exit 0
fi

command -v mvn >/dev/null || { say "ERROR: mvn not found (Debian: apt-get install maven)"; exit 1; }

say "resolving jars with mvn (the first run downloads them)"
# Fill a temporary folder and swap it in, so an interrupted run never leaves a
# half-filled jars/ that a later build or run would use.
tmp=$(mktemp -d "$PWD/.jars.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# mvn -q still prints bare ANSI colour resets; strip them, keep any errors.
mvn -q -B -Dstyle.color=never -f pom.xml dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 \
  | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2
n=$(find "$tmp" -name '*.jar' | wc -l)
[ "$n" -gt 0 ] || { say "ERROR: mvn resolved no jars"; exit 1; }
echo "$want" >"$tmp/.pom.sha256"
rm -rf "$JARS"
mv "$tmp" "$JARS"
trap - EXIT
say "fetched $n jars into $(pwd)/$JARS"
