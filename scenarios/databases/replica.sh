#!/usr/bin/env bash
# db-replica's entrypoint: a hot standby of db-primary by physical streaming
# replication (https://www.postgresql.org/docs/17/warm-standby.html).
#
# On first start (an empty data directory) it copies the primary with
# pg_basebackup, as lesson_replicator (a REPLICATION role: initdb/10-roles.sh),
# streaming the WAL written meanwhile (--wal-method=stream) and writing the
# connection to the primary into postgresql.auto.conf plus standby.signal
# (--write-recovery-conf): the server then starts as a standby that replays
# the primary's WAL as it arrives and answers read-only queries. Later starts
# find the data directory and resume streaming where they stopped.
set -euo pipefail

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  # The primary may still be initializing: try again until it answers.
  until pg_basebackup --host=db-primary --username=lesson_replicator --no-password \
        --pgdata="$PGDATA" --wal-method=stream --write-recovery-conf --checkpoint=fast; do
    echo "db-replica: the primary is not ready for a base backup yet; retrying" >&2
    rm -rf "${PGDATA:?}"/*
    sleep 1
  done
fi
# PostgreSQL refuses a data directory others may read; the volume's mount
# point keeps the image's mode.
chmod 0700 "$PGDATA"
# The same limits as the primary (a standby needs max_connections at least the
# primary's); hot_standby answers reads during recovery.
exec postgres -c hot_standby=on "$@"
