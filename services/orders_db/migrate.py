"""`python -m orders_db.migrate`: bring the schema to the newest migration (Alembic).

Run by the one-shot `migrate` service as sandbox_owner, which owns the schema
`sandbox` and nothing else. The connection string comes from
MIGRATE_DATABASE_URL (a libpq URL, postgresql://user:password@host/db);
Alembic reaches PostgreSQL through SQLAlchemy's psycopg 3 dialect. Two runs at
once (two `up`s) take turns: env.py holds an advisory lock.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def sqlalchemy_url(libpq_url: str) -> str:
    """postgresql://... as SQLAlchemy names the psycopg 3 driver: postgresql+psycopg://..."""
    scheme, separator, rest = libpq_url.partition("://")
    if not separator or scheme not in ("postgres", "postgresql"):
        raise ValueError("MIGRATE_DATABASE_URL must be postgresql://user:password@host/db")
    return f"postgresql+psycopg://{rest}"


def alembic_config(libpq_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Passed as an attribute, not a main option: those go through configparser,
    # which would take a % in a password for interpolation.
    config.attributes["url"] = sqlalchemy_url(libpq_url)
    return config


def main() -> int:
    url = os.environ.get("MIGRATE_DATABASE_URL", "")
    if not url:
        print("MIGRATE_DATABASE_URL is not set", file=sys.stderr)
        return 2
    # Alembic says what it applies ("Running upgrade  -> 0001, ...") at INFO.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    command.upgrade(alembic_config(url), "head")
    return 0


if __name__ == "__main__":
    sys.exit(main())
