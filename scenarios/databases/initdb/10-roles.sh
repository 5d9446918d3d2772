#!/usr/bin/env bash
# The lesson's roles and schemas, made once, on db-primary's first start.
# (The postgres images run /docker-entrypoint-initdb.d/* as the superuser, on
# the Unix socket only, when the data directory is first initialized.)
#
#   lesson_owner  owns the schemas `lesson` and `hr`: makes the lesson's tables
#                 (the scenario's set-up, the million orders); no superuser,
#                 cannot create databases or roles
#   lesson_app    the clients: reads and writes rows of the tables in `lesson`
#                 (default privileges cover tables made later), cannot create
#                 anything, and is granted nothing in `hr` (permission denied)
#   lesson_replicator  db-replica's: REPLICATION (a base backup, then the WAL
#                 stream) and nothing else; pg_hba.conf lets it in for
#                 replication only
#
# Passwords come from the environment (compose.yaml: DATABASES_*_PASSWORD,
# documented defaults in .env.example). They are set here once: after changing
# one in .env, `ALTER ROLE ... PASSWORD` it, or start from an empty volume.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --no-psqlrc \
  --set db="$POSTGRES_DB" \
  --set owner_password="${DATABASES_OWNER_PASSWORD:?}" \
  --set app_password="${DATABASES_APP_PASSWORD:?}" \
  --set replication_password="${DATABASES_REPLICATION_PASSWORD:?}" <<'SQL'
-- The clients' role may hold 20 connections of the server's 40: a client that
-- opens too many is refused with PostgreSQL's own message, and everyone else
-- (the owner, the superuser's reserved slots) is still served.
CREATE ROLE lesson_owner LOGIN PASSWORD :'owner_password' CONNECTION LIMIT 5
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE lesson_app LOGIN PASSWORD :'app_password' CONNECTION LIMIT 20
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE ROLE lesson_replicator LOGIN REPLICATION PASSWORD :'replication_password'
  CONNECTION LIMIT 3 NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
-- The owner reads the replication statistics (pg_stat_replication's lag columns).
GRANT pg_monitor TO lesson_owner;

-- Only these roles may connect; nobody creates in `public`.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO lesson_owner;
GRANT CONNECT ON DATABASE :"db" TO lesson_app;
REVOKE ALL ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA lesson AUTHORIZATION lesson_owner;
GRANT USAGE ON SCHEMA lesson TO lesson_app;
ALTER DEFAULT PRIVILEGES FOR ROLE lesson_owner IN SCHEMA lesson
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO lesson_app;
ALTER DEFAULT PRIVILEGES FOR ROLE lesson_owner IN SCHEMA lesson
  GRANT USAGE, SELECT ON SEQUENCES TO lesson_app;

-- Another role's table: the app may see the schema, and nothing in it.
CREATE SCHEMA hr AUTHORIZATION lesson_owner;
GRANT USAGE ON SCHEMA hr TO lesson_app;
SET ROLE lesson_owner;
CREATE TABLE hr.payroll (employee text PRIMARY KEY, salary_cents bigint NOT NULL);
INSERT INTO hr.payroll VALUES ('ada', 912300), ('grace', 987600);
RESET ROLE;

ALTER ROLE lesson_owner SET search_path = lesson;
ALTER ROLE lesson_app SET search_path = lesson;
SQL

# The superuser logs in only on the container's own socket (`docker compose
# exec db-primary psql -U postgres -d lesson`), never over the network: this
# line comes before the images' `host all all all scram-sha-256`, and
# pg_hba.conf's first matching line wins.
sed -i '/^host all all all /i host all postgres all reject' "$PGDATA/pg_hba.conf"
# `all` does not match replication connections: the replica's role gets its own line.
sed -i '/^host all all all /i host replication lesson_replicator all scram-sha-256' "$PGDATA/pg_hba.conf"
