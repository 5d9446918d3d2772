#!/usr/bin/env bash
# Resolve RabbitMQ PerfTest and its runtime jars (pom.xml beside this script)
# from Maven's default repositories into ./jars, on the host (git-ignored).
# bench/rabbitmq.py calls it before running PerfTest with the host's java:
#   java -cp 'jars/*' com.rabbitmq.perf.PerfTest --help
#
# Why mvn on the host: it uses the host's trust store and proxy settings,
# like broker/kafka/image/fetch-jars.sh, and the jars stay out of git.
#
# Idempotent: a stamp holding the pom's hash makes a second run a no-op.
set -euo pipefail
cd "$(dirname "$0")"

JARS=jars
STAMP="$JARS/.pom.sha256"

say() { printf '[perftest-jars] %s\n' "$*" >&2; }

want=$(sha256sum pom.xml | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  say "jars already match pom.xml ($(find "$JARS" -name '*.jar' | wc -l) jars)"
  exit 0
fi

command -v mvn >/dev/null || { say "ERROR: mvn not found (Debian: apt-get install maven)"; exit 1; }

say "resolving PerfTest jars with mvn (first run downloads about 9 MB)"
# Fill a temporary folder (jars.XXXXXX, git-ignored too) and swap it in, so an
# interrupted run never leaves a half-filled jars/ behind.
tmp=$(mktemp -d "$PWD/$JARS.XXXXXX")
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
