#!/usr/bin/env bash
# Stand-in for Kafka's bin/kafka-run-class.sh (which ships only in Kafka's
# release tarball, not on Maven Central): runs CLASS on the jars in ../libs
# and honours the same environment knobs, so commands and compose settings
# written for apache/kafka behave the same here:
#   KAFKA_HEAP_OPTS (default -Xmx256M), KAFKA_JVM_PERFORMANCE_OPTS,
#   KAFKA_GC_LOG_OPTS, KAFKA_JMX_OPTS, KAFKA_LOG4J_OPTS, KAFKA_OPTS,
#   CLASSPATH (prepended), JAVA_HOME, LOG_DIR.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-daemon] [-name servicename] [-loggc] classname [opts]" >&2
  exit 1
fi

base_dir=$(cd "$(dirname "$0")/.." && pwd)

# Upstream's launcher options. Daemon mode and GC log files make no sense for
# a container that logs to the console, so they are accepted and ignored.
while [ $# -gt 0 ]; do
  case $1 in
    -name) shift 2 ;;
    -loggc|-daemon) shift ;;
    *) break ;;
  esac
done

# Class-data-sharing archives recorded at build time (see
# /etc/kafka/docker/cds.sh): the broker, the storage tool, the other tools.
# They only match the default class path, so a custom CLASSPATH goes without.
cds=()
case $1 in
  kafka.Kafka) jsa=kafka.jsa ;;
  kafka.tools.StorageTool) jsa=storage.jsa ;;
  *) jsa=tools.jsa ;;
esac
if [ -z "${CLASSPATH:-}" ] && [ -f "$base_dir/$jsa" ]; then
  cds=("-XX:SharedArchiveFile=$base_dir/$jsa")
fi

java=java
[ -n "${JAVA_HOME:-}" ] && java="$JAVA_HOME/bin/java"

cp="$base_dir/libs/*"
[ -n "${CLASSPATH:-}" ] && cp="$CLASSPATH:$cp"

# Tools log WARN and above to stderr unless told otherwise. The entrypoint may
# write an overlay from KAFKA_TOOLS_LOG4J_LOGLEVEL; log4j2 merges a
# comma-separated list of configuration files.
if [ -z "${KAFKA_LOG4J_OPTS:-}" ]; then
  log4j="$base_dir/config/tools-log4j2.yaml"
  [ -f "$base_dir/config/tools-log4j2-env.yaml" ] && log4j="$log4j,$base_dir/config/tools-log4j2-env.yaml"
  KAFKA_LOG4J_OPTS="-Dlog4j2.configurationFile=$log4j"
fi

# The option variables hold several words each, as upstream's do: split them
# on whitespace into arrays.
read -r -a heap <<<"${KAFKA_HEAP_OPTS:--Xmx256M}"
read -r -a perf <<<"${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
read -r -a gclog <<<"${KAFKA_GC_LOG_OPTS:-}"
read -r -a jmx <<<"${KAFKA_JMX_OPTS:-}"
read -r -a log4j_opts <<<"-Dkafka.logs.dir=${LOG_DIR:-$base_dir/logs} $KAFKA_LOG4J_OPTS"
read -r -a opts <<<"${KAFKA_OPTS:-}"

exec "$java" "${heap[@]}" "${perf[@]}" "${cds[@]}" "${gclog[@]}" "${jmx[@]}" "${log4j_opts[@]}" \
  -cp "$cp" "${opts[@]}" "$@"
