"""Connections to the lesson's own PostgreSQL (db-primary, 127.0.0.1:5433), with psycopg 3.

Two roles (initdb/10-roles.sh): the owner makes the tables, the app is what
the lesson's clients log in as. Passwords: comms_sandbox.credentials (the
environment, .env, or the documented defaults).
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import make_conninfo

from comms_sandbox.credentials import setting
from comms_sandbox.ports import DATABASES, HOST

DATABASE = "lesson"
ROLES = {"owner": ("lesson_owner", "DATABASES_OWNER_PASSWORD"),
         "app": ("lesson_app", "DATABASES_APP_PASSWORD")}  # fmt: skip
# Building the million orders and their indexes takes longer than the server's 5 s cap
# on a busy machine: the owner's set-up session raises its own limit (users may).
SETUP_TIMEOUT = "120s"


def conninfo(role: str = "app") -> str:
    user, password_variable = ROLES[role]
    return make_conninfo(host=HOST, port=DATABASES.port, dbname=DATABASE, user=user,
                         password=setting(password_variable), connect_timeout=5,
                         application_name=f"databases-lesson-{role}")  # fmt: skip


def connect(role: str = "app", autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(conninfo(role), autocommit=autocommit)


def owner_session() -> psycopg.Connection:
    """The owner, autocommit, with the set-up's longer statement timeout."""
    conn = connect("owner", autocommit=True)
    conn.execute(f"SET statement_timeout = '{SETUP_TIMEOUT}'")
    return conn


def answers() -> bool:
    """The lesson's server accepts the app's login and answers a query."""
    try:
        with connect("app", autocommit=True) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False
