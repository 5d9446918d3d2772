#!/usr/bin/env bash
# The roles of the pooling part (pooling.py) and PgBouncer's password lookup.
# Idempotent: the image runs it on db-primary's first start, after
# 10-roles.sh and 20-shards.sh; on a volume made before it, the part runs it
# itself, as the superuser on the container's socket (`docker compose exec
# db-primary bash /docker-entrypoint-initdb.d/30-pooling.sh`). A role that
# exists keeps its password; its connection limit is set again.
#
#   lesson_crowd   the 200 clients, straight to the server or through db-pooler:
#                  lesson_app's privileges (a member that inherits them, and may
#                  not SET ROLE to it), with room for 225 connections (200
#                  direct and the pooler's 20 at once); lesson_app keeps its 20
#   lesson_pooler  db-pooler's own login (its auth_user): may call
#                  pooler.user_secret() and nothing else; PgBouncer's stats user.
#                  20 connections: PgBouncer runs auth_query on a pool of its
#                  own (default_pool_size), and opens more than one when many
#                  clients log in at once (100 at once went past a limit of 3)
#
# pooler.user_secret(name) is the SECURITY DEFINER function PgBouncer's docs
# recommend for auth_query (https://www.pgbouncer.org/config.html#auth_query):
# it returns the SCRAM secret of lesson_crowd or lesson_app only (not the
# owner's, the replicator's or the superuser's), NULL once past VALID UNTIL.
# PgBouncer checks the client's password against it, and logs in to the server
# with the keys of that same SCRAM exchange: no password of theirs is stored.
# Passwords: DATABASES_CROWD_PASSWORD, DATABASES_POOLER_PASSWORD (compose.yaml).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-lesson}" \
  --no-psqlrc --quiet \
  --set db="${POSTGRES_DB:-lesson}" \
  --set crowd_password="${DATABASES_CROWD_PASSWORD:?}" \
  --set pooler_password="${DATABASES_POOLER_PASSWORD:?}" <<'SQL'
SET client_min_messages = warning;
SELECT format('CREATE ROLE lesson_crowd LOGIN PASSWORD %L CONNECTION LIMIT 225 NOSUPERUSER '
              'NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', :'crowd_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lesson_crowd') \gexec
SELECT format('CREATE ROLE lesson_pooler LOGIN PASSWORD %L CONNECTION LIMIT 20 NOSUPERUSER '
              'NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', :'pooler_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lesson_pooler') \gexec
ALTER ROLE lesson_crowd CONNECTION LIMIT 225;
ALTER ROLE lesson_pooler CONNECTION LIMIT 20;
GRANT lesson_app TO lesson_crowd WITH INHERIT TRUE, SET FALSE;
GRANT CONNECT ON DATABASE :"db" TO lesson_crowd, lesson_pooler;
ALTER ROLE lesson_crowd SET search_path = lesson;

CREATE SCHEMA IF NOT EXISTS pooler;
REVOKE ALL ON SCHEMA pooler FROM PUBLIC;
GRANT USAGE ON SCHEMA pooler TO lesson_pooler;
CREATE OR REPLACE FUNCTION pooler.user_secret(username text)
  RETURNS TABLE (usename name, passwd text)
  LANGUAGE sql STABLE SECURITY DEFINER
  -- A safe search_path: the catalog, then pg_temp (PgBouncer 1.24.1's advice).
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END
    FROM pg_catalog.pg_authid
   WHERE rolname = username AND rolcanlogin AND rolname IN ('lesson_crowd', 'lesson_app')
$$;
REVOKE ALL ON FUNCTION pooler.user_secret(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pooler.user_secret(text) TO lesson_pooler;
SQL
