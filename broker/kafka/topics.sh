#!/usr/bin/env bash
# The sandbox's Kafka topics, created on purpose (the broker has
# auto.create.topics.enable=false), and the check that they are there.
#
#   topics.sh create   the `kafka-init` service's command: create every topic
#                      with kafka-topics.sh --create --if-not-exists, check
#                      them, then stay up doing nothing (a sleeping bash, ~2 MiB)
#                      so that `docker compose up --wait` can wait for it to be
#                      healthy. An init container that exits makes --wait fail
#                      ("container ... exited (0)") unless another service
#                      waits for it with service_completed_successfully.
#   topics.sh check    its healthcheck: one Metadata request, no JVM. Exit 0
#                      when every topic exists with its partition count and
#                      every partition has a leader.
#
# SANDBOX_TOPICS lists the topics as "name:partitions" words, e.g.
# "orders:3 orders.dead-letter:1"; KAFKA_BOOTSTRAP is host:port of the broker
# (kafka:19092). Like healthcheck.sh, `check` uses only bash builtins, so it
# runs unchanged in apache/kafka (Alpine) and in the local Debian-based image.
set -euo pipefail

topics=${SANDBOX_TOPICS:?"set SANDBOX_TOPICS, e.g. 'orders:3 orders.dead-letter:1'"}
bootstrap=${KAFKA_BOOTSTRAP:-kafka:19092}
host=${bootstrap%:*}
port=${bootstrap##*:}
wait_s=2 # per read; compose's healthcheck timeout bounds the whole check

say() { echo "===> $*"; }

# --- create ---------------------------------------------------------------

create() {
  local spec name partitions attempt
  for spec in $topics; do
    name=${spec%%:*}
    partitions=${spec##*:}
    # The broker is healthy before this runs (depends_on), but it may still be
    # electing its controller after a restart: a few tries, then give up loudly.
    for attempt in 1 2 3 4 5; do
      if /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$bootstrap" --create \
        --if-not-exists --topic "$name" --partitions "$partitions" --replication-factor 1; then
        break
      fi
      [ "$attempt" -lt 5 ] || { echo "ERROR: could not create $name" >&2; exit 1; }
      sleep 2
    done
  done
  # --if-not-exists keeps a topic that exists with other partitions: say so
  # and stop, rather than serve a topic the scenarios would misread.
  if ! check; then
    echo "ERROR: topics differ from SANDBOX_TOPICS; delete them or run 'make clean'" >&2
    exit 1
  fi
  say "topics ready; staying up so that 'up --wait' can see it healthy"
  # PID 1 ignores SIGTERM without a handler: exit at once on `docker stop`.
  trap 'exit 0' TERM INT
  while :; do
    sleep 86400 &
    wait $! || true
  done
}

# --- check: Metadata v1 request and response, byte by byte ----------------

# Big-endian integers and length-prefixed strings, written to stdout.
byte() { local hex; printf -v hex %02x "$1"; printf '%b' "\\x$hex"; }
put16() { byte $(($1 >> 8 & 255)); byte $(($1 & 255)); }
put32() { put16 $(($1 >> 16 & 65535)); put16 $(($1 & 65535)); }
putstr() { put16 ${#1}; printf '%s' "$1"; }

request() { # size, header, then the topic names
  local names=() spec name size
  for spec in $topics; do names+=("${spec%%:*}"); done
  size=$((2 + 2 + 4 + 2 + 2 + 4))  # api key, version, correlation id, client id, count
  for name in "${names[@]}"; do size=$((size + 2 + ${#name})); done
  put32 "$size"
  put16 3          # api_key: Metadata
  put16 1          # version 1: non-flexible, and an empty list means none, not all
  printf 'tpck'    # correlation id
  putstr tc        # client id
  put32 ${#names[@]}
  for name in "${names[@]}"; do putstr "$name"; done
}

# Reads N bytes from fd 3 into the global array `bytes` (0-255 each). With NUL
# as the delimiter a NUL byte reads as "". musl's C locale maps bytes >= 0x80 to
# U+DF80..U+DFFF, glibc's to themselves: the mask gives the byte either way.
read_bytes() {
  local n=$1 byte code
  bytes=()
  while [ "$n" -gt 0 ]; do
    IFS= read -r -d '' -n 1 -t "$wait_s" byte <&3 || return 1
    code=0
    [ -z "$byte" ] || printf -v code '%d' "'$byte"
    bytes+=($((code & 255)))
    n=$((n - 1))
  done
}

# Cursor over `bytes`: each reader sets `val` and advances `at`.
at=0
i8() { val=${bytes[at]}; at=$((at + 1)); }
i16() { val=$((bytes[at] << 8 | bytes[at + 1])); at=$((at + 2)); [ "$val" -lt 32768 ] || val=$((val - 65536)); }
i32() { val=$((bytes[at] << 24 | bytes[at + 1] << 16 | bytes[at + 2] << 8 | bytes[at + 3])); at=$((at + 4)); [ "$val" -lt 2147483648 ] || val=$((val - 4294967296)); }
str() { # int16 length (-1: null), then the bytes; sets `val` to the text
  local len i hex char text=""
  i16; len=$val
  for ((i = 0; i < len; i++)); do
    printf -v hex %02x "${bytes[at + i]}"
    printf -v char '%b' "\\x$hex"
    text+=$char
  done
  [ "$len" -lt 0 ] || at=$((at + len))
  val=$text
}
int32_array() { local n; i32; n=$val; at=$((at + 4 * (n > 0 ? n : 0))); val=$n; }

check() {
  LC_ALL=C
  local i n p err err_p name partitions leaderless spec expected status=0
  local -A found=()
  { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || { echo "broker not reachable"; return 1; }
  request >&3
  read_bytes 4 || return 1
  at=0; i32
  read_bytes "$val" || return 1
  exec 3<&-
  at=4                               # after the correlation id
  i32; n=$val                        # brokers: node_id, host, port, rack
  for ((i = 0; i < n; i++)); do i32; str; i32; str; done
  i32                                # controller_id
  i32; n=$val                        # topics
  for ((i = 0; i < n; i++)); do
    i16; err=$val; str; name=$val; i8  # error code, name, is_internal
    i32; partitions=$val; leaderless=0
    for ((p = 0; p < partitions; p++)); do
      i16; err_p=$val; i32; i32       # error code, index, leader (-1: none)
      [ "$err_p" -eq 0 ] && [ "$val" -ge 0 ] || leaderless=$((leaderless + 1))
      int32_array; int32_array        # replicas, in-sync replicas
    done
    found[$name]="$err $partitions $leaderless"
  done
  for spec in $topics; do
    name=${spec%%:*}; expected=${spec##*:}
    read -r err partitions leaderless <<<"${found[$name]:-missing 0 0}"
    if [ "$err" = 0 ] && [ "$partitions" = "$expected" ] && [ "$leaderless" = 0 ]; then
      echo "$name: $partitions partitions, all with a leader"
    else
      echo "$name: error $err, $partitions partitions (want $expected), $leaderless without a leader"
      status=1
    fi
  done
  return "$status"
}

case ${1:-} in
  create) create ;;
  check) check ;;
  *) echo "usage: $0 create|check" >&2; exit 2 ;;
esac
