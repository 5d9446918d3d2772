#!/usr/bin/env bash
# The upstream postgres image's entrypoint contract, for the local image (the
# upstream script is longer: gosu, nss_wrapper, WAL dirs, *_FILE secrets):
#   - any command but `postgres ...` (or flags, which mean postgres) runs as is;
#   - on an empty PGDATA: initdb with POSTGRES_USER (default postgres) and
#     POSTGRES_PASSWORD (required), POSTGRES_INITDB_ARGS; a pg_hba.conf line
#     `host all all all <password_encryption>`; a server on the Unix socket
#     only; POSTGRES_DB (default: the user's name) created; each file of
#     /docker-entrypoint-initdb.d in order (*.sh run when executable, else
#     sourced; *.sql through psql, stopping at the first error); stopped again;
#   - then the server is exec'd: PID 1, it gets the stop signal itself.
set -Eeuo pipefail

init_dir=/docker-entrypoint-initdb.d

psql_init() {
  PGHOST= PGHOSTADDR= psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password \
    --no-psqlrc "$@"
}

init_database() {
  if [[ -z ${POSTGRES_PASSWORD:-} ]]; then
    echo "Error: the database is uninitialized and POSTGRES_PASSWORD is not set." >&2
    exit 1
  fi
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS holds several arguments
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    ${POSTGRES_INITDB_ARGS:-}
  local auth
  auth=$(postgres -C password_encryption "${@:2}")
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

  export PGPASSWORD=$POSTGRES_PASSWORD
  pg_ctl -D "$PGDATA" -w start -o "$(printf '%q ' "${@:2}" -c listen_addresses='' -p 5432)"
  if [[ -z $(psql_init --dbname postgres --tuples-only --set db="$POSTGRES_DB" \
        <<<"SELECT 1 FROM pg_database WHERE datname = :'db'") ]]; then
    psql_init --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db"'
  fi
  local file
  for file in "$init_dir"/*; do
    case $file in
      *.sh) if [[ -x $file ]]; then echo "$0: running $file"; "$file"
            else echo "$0: sourcing $file"; . "$file"; fi ;;
      *.sql) echo "$0: running $file"; psql_init --dbname "$POSTGRES_DB" -f "$file" ;;
      *) echo "$0: ignoring $file" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  unset PGPASSWORD
  echo "PostgreSQL init process complete; ready for start up."
}

main() {
  [[ ${1:-} != -* ]] || set -- postgres "$@"
  if [[ ${1:-} == postgres ]]; then
    export POSTGRES_USER=${POSTGRES_USER:-postgres}
    export POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA" || :
    if [[ ! -s $PGDATA/PG_VERSION ]]; then
      shopt -s nullglob
      init_database "$@"
    fi
  fi
  exec "$@"
}

main "$@"
