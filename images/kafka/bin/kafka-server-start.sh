#!/usr/bin/env bash
# Stand-in for Kafka's bin/kafka-server-start.sh: the broker's log4j2 config
# and upstream's default heap (1 GiB) unless KAFKA_HEAP_OPTS says otherwise.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "USAGE: $0 server.properties [--override property=value]*" >&2
  exit 1
fi

base_dir=$(cd "$(dirname "$0")/.." && pwd)
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/log4j2.yaml}"
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"

exec "$base_dir/bin/kafka-run-class.sh" kafka.Kafka "$@"
