"""Bad input and limits: a runaway query, another role's table, too many connections.

Each is refused by PostgreSQL itself, with its own SQLSTATE and message, and
the server goes on serving everyone else
(https://www.postgresql.org/docs/17/errcodes-appendix.html):
- a runaway query (a cross join of two 100,000-row series: 10^10 rows to
  count, minutes of CPU) is cancelled by statement_timeout: 57014
  query_canceled, "canceling statement due to statement timeout"; the
  session answers the next query. The server's command line caps every
  statement at 5 s; the client lowers its own session's limit to 1 s here
  (any role may SET it, lower or higher: the server's value is a default);
- lesson_app reads another role's table (hr.payroll, lesson_owner's, never
  granted) and creates a table: 42501 insufficient_privilege, "permission
  denied for table payroll", "permission denied for schema lesson";
- lesson_app opens connection after connection: its role's CONNECTION LIMIT
  (20, initdb/10-roles.sh) refuses the 21st with 53300, "too many connections
  for role", while the owner still connects and queries; once the client lets
  go, it connects again.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psycopg

from scenarios.result import Check

from . import db

SESSION_TIMEOUT = "1s"
RUNAWAY = "SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b"
EXTRA_CONNECTIONS = 3  # attempts past the role's limit
REFUSED_FOR_ROLE = 'too many connections for role "lesson_app"'


def run() -> dict[str, Any]:
    runaway = runaway_query()
    denied = {"read another role's table": refused("SELECT * FROM hr.payroll"),
              "create a table": refused("CREATE TABLE lesson.mine (x integer)")}  # fmt: skip
    flood = too_many_connections()
    return {"runaway": runaway, "denied": denied, "connections": flood,
            "holds": holds(runaway, denied, flood)}  # fmt: skip


def runaway_query() -> dict[str, Any]:
    with db.connect("app", autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = '{SESSION_TIMEOUT}'")
        started = time.monotonic()
        try:
            conn.execute(RUNAWAY)
            error = None
        except psycopg.errors.QueryCanceled as exc:
            error = {"sqlstate": exc.sqlstate, "message": exc.diag.message_primary}
        seconds = time.monotonic() - started
        after = conn.execute("SELECT 1").fetchone() == (1,)
    return {"query": RUNAWAY, "statement_timeout": SESSION_TIMEOUT, "error": error,
            "seconds": round(seconds, 2), "session_answers_after": after}  # fmt: skip


def refused(sql: str) -> dict[str, Any]:
    """What the server answers lesson_app's `sql`: its SQLSTATE and message, or that it ran."""
    with db.connect("app", autocommit=True) as conn:
        try:
            conn.execute(sql)
        except psycopg.errors.InsufficientPrivilege as exc:
            return {"sql": sql, "sqlstate": exc.sqlstate, "message": exc.diag.message_primary}
    return {"sql": sql, "sqlstate": None, "message": "it ran"}


def too_many_connections() -> dict[str, Any]:
    """lesson_app connects past its limit; the owner meanwhile; then lesson_app again."""
    with db.connect("owner", autocommit=True) as owner:
        limit = owner.execute(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'lesson_app'"
        ).fetchone()[0]
        with contextlib.ExitStack() as held:
            opened, refusals = open_many(held, limit + EXTRA_CONNECTIONS)
            at_server = app_connections(owner)
            owner_served = owner.execute("SELECT 1").fetchone() == (1,)
        served_after = db.answers()
    return {"role_limit": limit, "attempts": limit + EXTRA_CONNECTIONS, "opened": opened,
            "app_connections_at_server": at_server, "refusals": refusals,
            "owner_served_meanwhile": owner_served, "app_served_after": served_after}  # fmt: skip


def open_many(held: contextlib.ExitStack, attempts: int) -> tuple[int, list[str]]:
    opened, refusals = 0, []
    for _ in range(attempts):
        try:
            held.enter_context(db.connect("app", autocommit=True))
            opened += 1
        except psycopg.OperationalError as exc:
            refusals.append(str(exc).strip().splitlines()[-1])
    return opened, refusals


def app_connections(owner: psycopg.Connection) -> int:
    query = "SELECT count(*) FROM pg_stat_activity WHERE usename = 'lesson_app'"
    return owner.execute(query).fetchone()[0]


def holds(
    runaway: dict[str, Any], denied: dict[str, Any], flood: dict[str, Any]
) -> dict[str, Check]:
    error = runaway["error"] or {}
    limit = flood["role_limit"]
    return {
        "a runaway query is cancelled by statement_timeout (57014)": (
            error.get("sqlstate") == "57014" and "statement timeout" in error.get("message", "")),
        "it is cut within 3 s of its 1 s limit, and the session answers after": (
            runaway["seconds"] < 4 and runaway["session_answers_after"]),
        "lesson_app is refused another role's table and creating one (42501)": all(
            d["sqlstate"] == "42501" and "permission denied" in d["message"]
            for d in denied.values()),
        "connections past the role's limit are refused with PostgreSQL's message": (
            flood["opened"] == limit == flood["app_connections_at_server"]
            and len(flood["refusals"]) == flood["attempts"] - limit
            and all(REFUSED_FOR_ROLE in r for r in flood["refusals"])),
        "the server serves others meanwhile, and the client again after": (
            flood["owner_served_meanwhile"] and flood["app_served_after"]),
    }  # fmt: skip
