#!/usr/bin/env bash
# db-primary as the shards' coordinator: postgres_fdw, a server per shard, user mappings.
#
# The shards are db-shard-1 and db-shard-2; the mappings are for the lesson's two roles.
#
# CREATE EXTENSION postgres_fdw and CREATE SERVER need the superuser, who logs
# in only on the container's socket. This script runs there twice over:
#   - on a fresh volume, by the image's entrypoint (initdb), after 10-roles.sh;
#   - on every run of the part (scenarios/databases/shards.py), through
#     `docker compose exec db-primary bash /docker-entrypoint-initdb.d/20-shards.sh`,
#     so that a volume made before the shards existed gets them too.
# Every statement is idempotent (IF NOT EXISTS), and the mappings' password is
# set again each time from the environment (DATABASES_SHARD_PASSWORD, documented
# default in .env.example): after changing it in .env, recreate the shards'
# volumes (their role is made once) and run the part.
#
#   shard_N            a foreign server: host db-shard-N, database shard
#                      (https://www.postgresql.org/docs/17/postgres-fdw.html)
#   user mappings      lesson_owner and lesson_app log in there as lesson_shard,
#                      a role that may only read and write shard.orders
#   USAGE on shard_N   for lesson_owner only, who creates the foreign tables
#                      (lesson.orders_sharded's partitions); lesson_app queries
#                      them through its mapping and needs no USAGE (so it cannot
#                      read the mapping's password in pg_user_mappings either)
set -euo pipefail

shards=(1 2)
# Quiet on a second run: no NOTICE for each object that already exists.
sql="SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS postgres_fdw;"
for n in "${shards[@]}"; do
  sql+="
CREATE SERVER IF NOT EXISTS shard_$n FOREIGN DATA WRAPPER postgres_fdw
  OPTIONS (host 'db-shard-$n', port '5432', dbname 'shard', batch_size '100');
GRANT USAGE ON FOREIGN SERVER shard_$n TO lesson_owner;"
  for role in lesson_owner lesson_app; do
    sql+="
CREATE USER MAPPING IF NOT EXISTS FOR $role SERVER shard_$n
  OPTIONS (user 'lesson_shard', password :'shard_password');
ALTER USER MAPPING FOR $role SERVER shard_$n OPTIONS (SET password :'shard_password');"
  done
done

psql -v ON_ERROR_STOP=1 --quiet --username "${POSTGRES_USER:-postgres}" \
  --dbname "${POSTGRES_DB:-lesson}" --no-psqlrc \
  --set shard_password="${DATABASES_SHARD_PASSWORD:?}" <<<"$sql"
