#!/usr/bin/env bash
# Entrypoint of the local Kafka image, installed as /etc/kafka/docker/run like
# apache/kafka's. It follows the upstream image's steps so one compose.yaml
# works with both images:
#   1. defaults for unset KAFKA_* variables (upstream configureDefaults),
#   2. checks and derived values (upstream configure),
#   3. server.properties from KAFKA_* variables with the rules of
#      kafka.docker.KafkaDockerWrapper: drop the KAFKA_ prefix, lower-case,
#      '_' -> '.', then '...' -> '-' and '..' -> '_'
#      (KAFKA_LOG_DIRS -> log.dirs, KAFKA_A__B -> a_b, KAFKA_A___B -> a-b),
#      appended to a mounted /mnt/shared/config/server.properties if any,
#   4. formats the KRaft storage with CLUSTER_ID when it is not formatted yet,
#   5. exec's the broker in the foreground (it becomes the container's main
#      process and gets SIGTERM on `docker stop`).
# Difference from upstream: step 4 is skipped when every log directory already
# holds meta.properties, instead of running the storage tool and ignoring its
# "already formatted" error; that saves a JVM start on every restart.
set -euo pipefail

home=/opt/kafka
defaults_dir=/etc/kafka/docker
mounted_dir=/mnt/shared/config
config_dir="$home/config"
props="$config_dir/server.properties"

say() { echo "===> $*"; }
die() { echo "ERROR: $*" >&2; exit 1; }
trim() { local v=$1; v=${v#"${v%%[![:space:]]*}"}; echo "${v%"${v##*[![:space:]]}"}"; }

# As upstream's run: KEY=VALUE arguments override the environment.
for arg in "$@"; do
  [[ $arg == *=* ]] || die "unexpected argument '$arg' (expected KEY=VALUE)"
  export "${arg?}"
done

say "User"
id

# 1. Defaults: a single combined broker+controller, as in apache/kafka.
say "Setting default values of environment variables if not already set."
declare -A env_defaults=(
  [CLUSTER_ID]="5L6g3nShT-eMCtK--X86sw"
  [KAFKA_NODE_ID]=1
  [KAFKA_LISTENER_SECURITY_PROTOCOL_MAP]="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT"
  [KAFKA_LISTENERS]="PLAINTEXT://localhost:29092,CONTROLLER://localhost:29093,PLAINTEXT_HOST://0.0.0.0:9092"
  [KAFKA_ADVERTISED_LISTENERS]="PLAINTEXT://localhost:29092,PLAINTEXT_HOST://localhost:9092"
  [KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR]=1
  [KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS]=0
  [KAFKA_TRANSACTION_STATE_LOG_MIN_ISR]=1
  [KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR]=1
  [KAFKA_PROCESS_ROLES]="broker,controller"
  [KAFKA_CONTROLLER_QUORUM_VOTERS]="1@localhost:29093"
  [KAFKA_INTER_BROKER_LISTENER_NAME]="PLAINTEXT"
  [KAFKA_CONTROLLER_LISTENER_NAMES]="CONTROLLER"
  [KAFKA_LOG_DIRS]="/tmp/kraft-combined-logs"
)
for key in "${!env_defaults[@]}"; do
  if [ -z "${!key:-}" ]; then
    echo "$key not set. Setting it to default value: \"${env_defaults[$key]}\""
    export "$key=${env_defaults[$key]}"
  fi
done

# 2. Checks and derived values.
say "Configuring ..."
if [ -n "${KAFKA_PROCESS_ROLES:-}" ]; then
  echo "Running in KRaft mode..."
  [ -n "${CLUSTER_ID:-}" ] || die "CLUSTER_ID environment variable not set"
  if [ "$KAFKA_PROCESS_ROLES" = controller ]; then
    [ -z "${KAFKA_ADVERTISED_LISTENERS:-}" ] \
      || die "KAFKA_ADVERTISED_LISTENERS is not supported on a KRaft controller."
    unset KAFKA_ADVERTISED_LISTENERS
  fi
fi
# Listen on every advertised port when only advertised listeners are given.
if [ -z "${KAFKA_LISTENERS:-}" ] && [ "${KAFKA_PROCESS_ROLES:-}" != controller ] \
   && [ -n "${KAFKA_ADVERTISED_LISTENERS:-}" ]; then
  # shellcheck disable=SC2001 # a regex, not a fixed string
  KAFKA_LISTENERS=$(sed -e 's|://[^:]*:|://0.0.0.0:|g' <<<"$KAFKA_ADVERTISED_LISTENERS")
  export KAFKA_LISTENERS
fi
[ -w "$config_dir" ] || die "$config_dir is not writable"

# 3. server.properties. These KAFKA_* variables configure the JVM, the
# launcher or logging, not the broker (upstream's list, plus every KAFKA_JMX_*).
is_launcher_var() {
  case $1 in
    KAFKA_VERSION|KAFKA_HEAP_OPTS|KAFKA_LOG4J_OPTS|KAFKA_OPTS|KAFKA_JMX_*|\
    KAFKA_JVM_PERFORMANCE_OPTS|KAFKA_GC_LOG_OPTS|KAFKA_LOG4J_ROOT_LOGLEVEL|\
    KAFKA_LOG4J_LOGGERS|KAFKA_TOOLS_LOG4J_LOGLEVEL) return 0 ;;
  esac
  return 1
}

if [ -f "$mounted_dir/server.properties" ]; then
  echo "Using $mounted_dir/server.properties; KAFKA_* variables are appended to it."
  cp "$mounted_dir/server.properties" "$props"
  echo >>"$props"
else
  : >"$props"
fi
while IFS= read -r name; do
  is_launcher_var "$name" && continue
  key=${name#KAFKA_}
  key=${key,,}
  key=${key//_/.}
  key=${key//.../-}
  key=${key//../_}
  printf '%s=%s\n' "$key" "${!name}" >>"$props"
done < <(compgen -e | grep '^KAFKA_' | LC_ALL=C sort)
if ! grep -q '[^[:space:]]' "$props"; then
  echo "No broker configuration given; using $defaults_dir/server.properties."
  cp "$defaults_dir/server.properties" "$props"
fi

# Logging: the bundled (or a mounted) log4j2.yaml; KAFKA_LOG4J_ROOT_LOGLEVEL,
# KAFKA_LOG4J_LOGGERS (name=LEVEL,...) and KAFKA_TOOLS_LOG4J_LOGLEVEL go into
# overlay files that log4j2 merges on top (configurationFile=a.yaml,b.yaml).
for f in log4j2.yaml tools-log4j2.yaml; do
  src="$defaults_dir/$f"
  [ -f "$mounted_dir/$f" ] && src="$mounted_dir/$f"
  cp "$src" "$config_dir/$f"
done
write_overlay() { # FILE ROOT_LEVEL [name=LEVEL,...]
  local file=$1 root=$2 loggers=${3:-} entry
  rm -f "$file"
  [ -n "$root$loggers" ] || return 0
  {
    echo "Configuration:"
    echo "  Loggers:"
    [ -z "$root" ] || printf '    Root:\n      level: %s\n' "$root"
    if [ -n "$loggers" ]; then
      echo "    Logger:"
      IFS=, read -r -a entries <<<"$loggers"
      for entry in "${entries[@]}"; do
        [[ $entry == *=* ]] || die "KAFKA_LOG4J_LOGGERS entry '$entry' is not name=LEVEL"
        printf '      - name: "%s"\n        level: %s\n' \
          "$(trim "${entry%%=*}")" "$(trim "${entry#*=}")"
      done
    fi
  } >"$file"
}
write_overlay "$config_dir/log4j2-env.yaml" "${KAFKA_LOG4J_ROOT_LOGLEVEL:-}" "${KAFKA_LOG4J_LOGGERS:-}"
write_overlay "$config_dir/tools-log4j2-env.yaml" "${KAFKA_TOOLS_LOG4J_LOGLEVEL:-}"
if [ -z "${KAFKA_LOG4J_OPTS:-}" ]; then
  log4j="$config_dir/log4j2.yaml"
  [ -f "$config_dir/log4j2-env.yaml" ] && log4j="$log4j,$config_dir/log4j2-env.yaml"
  export KAFKA_LOG4J_OPTS="-Dlog4j2.configurationFile=$log4j"
fi

# JMX, as upstream's launch: a remote port only when KAFKA_JMX_PORT is set.
if [ -n "${KAFKA_JMX_PORT:-}" ]; then
  jmx_host=${KAFKA_JMX_HOSTNAME:-$(hostname -i | cut -d' ' -f1)}
  export KAFKA_JMX_OPTS="${KAFKA_JMX_OPTS:--Dcom.sun.management.jmxremote=true -Dcom.sun.management.jmxremote.authenticate=false -Dcom.sun.management.jmxremote.ssl=false} -Djava.rmi.server.hostname=$jmx_host -Dcom.sun.management.jmxremote.local.only=false -Dcom.sun.management.jmxremote.rmi.port=$KAFKA_JMX_PORT -Dcom.sun.management.jmxremote.port=$KAFKA_JMX_PORT"
fi

# 4. KRaft storage. The last log.dirs (or log.dir) and metadata.log.dir in
# the file win, as with java.util.Properties.
prop() { sed -n "s/^[[:space:]]*${1//./\\.}[[:space:]]*[=:][[:space:]]*//p" "$props" | tail -n 1; }
if [ -n "${KAFKA_PROCESS_ROLES:-}" ]; then
  say "Using provided cluster id $CLUSTER_ID ..."
  dirs=$(prop log.dirs)
  [ -n "$dirs" ] || dirs=$(prop log.dir)
  [ -n "$dirs" ] || dirs=/tmp/kafka-logs
  meta=$(prop metadata.log.dir)
  [ -z "$meta" ] || dirs="$dirs,$meta"
  formatted=true
  IFS=, read -r -a dir_list <<<"$dirs"
  for dir in "${dir_list[@]}"; do
    [ -f "$(trim "$dir")/meta.properties" ] || formatted=false
  done
  if [ "$formatted" = true ]; then
    echo "Storage in $dirs is already formatted; not formatting."
  else
    "$home/bin/kafka-storage.sh" format \
      --cluster-id "$CLUSTER_ID" -c "$props" --ignore-formatted
  fi
fi

# 5. The broker.
say "Launching ..."
exec "$home/bin/kafka-server-start.sh" "$props"
