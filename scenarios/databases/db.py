"""Connections to the lesson's own PostgreSQL (db-primary :5433, db-replica :5434), psycopg 3.

Two roles (initdb/10-roles.sh): the owner makes the tables, the app is what
the lesson's clients log in as. Passwords: comms_sandbox.credentials (the
environment, .env, or the documented defaults).
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import make_conninfo

from comms_sandbox.credentials import setting
from comms_sandbox.ports import DATABASES, DATABASES_REPLICA, HOST

DATABASE = "lesson"
ROLES = {"owner": ("lesson_owner", "DATABASES_OWNER_PASSWORD"),
         "app": ("lesson_app", "DATABASES_APP_PASSWORD")}  # fmt: skip
# Building the million orders and their indexes takes longer than the server's 5 s cap
# on a busy machine: the owner's set-up session raises its own limit (users may).
SETUP_TIMEOUT = "120s"


SERVERS = {"primary": DATABASES, "replica": DATABASES_REPLICA}


def conninfo(role: str = "app", server: str = "primary") -> str:
    user, password_variable = ROLES[role]
    return make_conninfo(host=HOST, port=SERVERS[server].port, dbname=DATABASE, user=user,
                         password=setting(password_variable), connect_timeout=5,
                         application_name=f"databases-lesson-{role}")  # fmt: skip


def connect(role: str = "app", autocommit: bool = False,
            server: str = "primary") -> psycopg.Connection:  # fmt: skip
    return psycopg.connect(conninfo(role, server), autocommit=autocommit)


def owner_session() -> psycopg.Connection:
    """The owner, autocommit, with the set-up's longer statement timeout."""
    conn = connect("owner", autocommit=True)
    conn.execute(f"SET statement_timeout = '{SETUP_TIMEOUT}'")
    return conn


def answers(server: str = "primary") -> bool:
    """The lesson's server (or its replica) accepts the app's login and answers a query."""
    try:
        with connect("app", autocommit=True, server=server) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False
