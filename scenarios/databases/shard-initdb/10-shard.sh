#!/usr/bin/env bash
# A shard's roles, table and statement statistics, made once, on its first start.
#
# db-shard-1 and db-shard-2 run the same script (the postgres images run
# /docker-entrypoint-initdb.d/* as the superuser, on the Unix socket only).
#
#   shard_owner   owns the schema `shard` and its table orders; cannot log in
#   lesson_shard  what the coordinator's postgres_fdw logs in as (its user
#                 mappings, db-primary's initdb/20-shards.sh): reads and writes
#                 rows of shard.orders, and nothing else: creates nothing, owns
#                 nothing, sees no other table
#   shard_stats   reads the statement statistics (pg_read_all_stats); it has no
#                 password, so it logs in only on the container's own socket
#                 (`docker compose exec db-shard-1 psql -U shard_stats -d shard`)
#
# The table has the coordinator's columns (lesson.orders_sharded: scenarios/
# databases/shards.py); which customers' rows land here is the coordinator's
# hash partitioning's decision, not this server's.
#
# pg_stat_statements (loaded by compose.yaml's shared_preload_libraries) counts
# every statement this server runs, by role and normalized text: the lesson
# reads there which shard ran the coordinator's query. The password comes from
# the environment (DATABASES_SHARD_PASSWORD, documented default in .env.example).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --no-psqlrc \
  --set db="$POSTGRES_DB" \
  --set shard_password="${DATABASES_SHARD_PASSWORD:?}" <<'SQL'
CREATE ROLE shard_owner NOLOGIN;
CREATE ROLE lesson_shard LOGIN PASSWORD :'shard_password' CONNECTION LIMIT 10
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE shard_stats LOGIN CONNECTION LIMIT 3
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
GRANT pg_read_all_stats TO shard_stats;

REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO lesson_shard, shard_stats;
REVOKE ALL ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA stats;
CREATE EXTENSION pg_stat_statements SCHEMA stats;
GRANT USAGE ON SCHEMA stats TO shard_stats;

CREATE SCHEMA shard AUTHORIZATION shard_owner;
SET ROLE shard_owner;
CREATE TABLE shard.orders (
  id bigint PRIMARY KEY,
  customer_id integer NOT NULL,
  created_at timestamptz NOT NULL,
  amount_cents integer NOT NULL);
CREATE INDEX orders_customer ON shard.orders (customer_id);
RESET ROLE;
GRANT USAGE ON SCHEMA shard TO lesson_shard;
-- TRUNCATE: the coordinator empties the sharded table before loading it again.
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON shard.orders TO lesson_shard;
SQL

# The superuser only on the container's own socket, as on db-primary: this line
# comes before the images' `host all all all scram-sha-256` (the first match wins).
sed -i '/^host all all all /i host all postgres all reject' "$PGDATA/pg_hba.conf"
