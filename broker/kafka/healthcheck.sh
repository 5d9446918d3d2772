#!/usr/bin/env bash
# Docker healthcheck for the Kafka broker: exit 0 when the broker answers a
# Kafka request on its internal listener, 1 otherwise.
#
# It runs every couple of seconds for the container's whole life, so it must
# be cheap: no JVM, no kafka-*.sh tool, only bash builtins (/dev/tcp, printf,
# read). That also makes it work unchanged in apache/kafka (Alpine, bash
# installed) and in the local Debian-based image; compose bind-mounts it.
#
# The probe: an ApiVersions v0 request (the one every Kafka client sends
# first), then the first 10 bytes of the reply must be a length, our
# correlation id and error code 0. A port that merely accepts connections
# (the socket opens before the broker serves requests) does not pass.
#
# Usage: healthcheck.sh [PORT]   (default 19092, the INTERNAL listener)
set -euo pipefail

port=${1:-19092}
wait_s=2   # per read; compose's healthcheck timeout bounds the whole run

# Connection refused (broker not listening yet) is a plain failure.
# (The braces make 2>/dev/null cover bash's own "connect:" message.)
{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || exit 1

# Request: int32 size=12 | int16 api_key=18 (ApiVersions) | int16 version=0 |
# int32 correlation_id="khck" | int16 client_id length=2 | "hc". Version 0 has
# no tagged fields, so the reply header is just the correlation id.
printf '\x00\x00\x00\x0c\x00\x12\x00\x00khck\x00\x02hc' >&3

# Read the reply byte by byte: with NUL as the delimiter a NUL byte reads as
# "" (success), any other byte as itself; EOF or the timeout fail the check.
# Bytes 0-3: size (any); 4-7: "khck"; 8-9: error code 0.
LC_ALL=C
reply=()
for _ in 0 1 2 3 4 5 6 7 8 9; do
  IFS= read -r -d '' -n 1 -t "$wait_s" byte <&3 || exit 1
  reply+=("$byte")
done
exec 3<&-

[ "${reply[4]}${reply[5]}${reply[6]}${reply[7]}" = khck ] || exit 1
[ -z "${reply[8]}${reply[9]}" ] || exit 1
exit 0
