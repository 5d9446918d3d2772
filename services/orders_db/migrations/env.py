"""Alembic's environment: online migrations only, in one transaction, one runner at a time."""

from alembic import context
from sqlalchemy import create_engine, pool, text

SCHEMA = "sandbox"
# Any constant both runners agree on: two `migrate` containers started by two
# `up`s at once queue on it instead of racing to create the same tables.
ADVISORY_LOCK = 26_0001


def run_migrations_online() -> None:
    engine = create_engine(context.config.attributes["url"], poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            # Alembic's bookkeeping table lives beside the tables it versions; the
            # first migration revokes the api's default privileges on it.
            version_table_schema=SCHEMA,
            transactional_ddl=True,
        )
        with context.begin_transaction():
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
            # The server cuts any statement at 5 s (compose.yaml); a migration may
            # take longer, but never waits long behind the api's row locks.
            connection.execute(text("SET LOCAL statement_timeout = '60s'"))
            connection.execute(text("SET LOCAL lock_timeout = '5s'"))
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("no offline (SQL script) mode here: run `python -m orders_db.migrate`")
run_migrations_online()
