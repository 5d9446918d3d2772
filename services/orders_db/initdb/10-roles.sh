#!/usr/bin/env bash
# The sandbox's roles and schema, made once, when PostgreSQL's data directory
# is first initialized (the postgres images run /docker-entrypoint-initdb.d/*
# as the superuser, on the Unix socket only). Tables come later, from the
# migrations (services/orders_db/migrations), applied as sandbox_owner.
#
#   sandbox_owner  owns the schema `sandbox`, runs the migrations; no superuser,
#                  cannot create databases, roles or other schemas
#   sandbox_api    the api: uses the schema, reads and writes rows of its
#                  tables (default privileges cover tables made later), cannot
#                  create anything
#   sandbox_relay  the outbox relay: SELECT and UPDATE on sandbox.outbox only
#                  (granted by the migration that makes the table)
#
# Passwords come from the environment (compose.yaml: POSTGRES_*_PASSWORD, with
# documented defaults, .env.example). They are set here once: after changing
# one in .env, `ALTER ROLE ... PASSWORD` it, or start from an empty volume.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --no-psqlrc \
  --set db="$POSTGRES_DB" \
  --set owner_password="${POSTGRES_OWNER_PASSWORD:?}" \
  --set api_password="${POSTGRES_API_PASSWORD:?}" \
  --set relay_password="${POSTGRES_RELAY_PASSWORD:?}" <<'SQL'
-- Each role may hold only so many connections: the api's pools (5 replicas x 6)
-- fit under 40, and no role can take all of max_connections from the others.
CREATE ROLE sandbox_owner LOGIN PASSWORD :'owner_password' CONNECTION LIMIT 5
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE sandbox_api LOGIN PASSWORD :'api_password' CONNECTION LIMIT 40
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE sandbox_relay LOGIN PASSWORD :'relay_password' CONNECTION LIMIT 10
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- Only these roles may connect to the database; nobody creates in `public`.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO sandbox_owner;
GRANT CONNECT ON DATABASE :"db" TO sandbox_api, sandbox_relay;
REVOKE ALL ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA sandbox AUTHORIZATION sandbox_owner;
GRANT USAGE ON SCHEMA sandbox TO sandbox_api, sandbox_relay;
-- Whatever sandbox_owner creates in the schema later (each migration's tables
-- and sequences) the api may use, row by row, and nothing more.
ALTER DEFAULT PRIVILEGES FOR ROLE sandbox_owner IN SCHEMA sandbox
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO sandbox_api;
ALTER DEFAULT PRIVILEGES FOR ROLE sandbox_owner IN SCHEMA sandbox
  GRANT USAGE, SELECT ON SEQUENCES TO sandbox_api;

-- psql as any of them finds the tables without a schema prefix.
ALTER ROLE sandbox_owner SET search_path = sandbox;
ALTER ROLE sandbox_api SET search_path = sandbox;
ALTER ROLE sandbox_relay SET search_path = sandbox;
SQL

# The superuser logs in only on the container's own socket (`docker compose
# exec postgres psql -U postgres`), never over the network: this line comes
# before the images' `host all all all scram-sha-256`, and pg_hba.conf's first
# matching line wins.
sed -i '/^host all all all /i host all postgres all reject' "$PGDATA/pg_hba.conf"
