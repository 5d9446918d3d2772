"""The api's connection pool: psycopg 3's AsyncConnectionPool, as sandbox_api.

Opened without waiting (`open(wait=False)`): the api starts, and answers 503,
while PostgreSQL is away; the pool keeps trying in the background. Every
connection is checked when it is handed out, so after a database restart the
first requests get fresh connections instead of dead ones: the api recovers
by itself. The bounds are what keeps a slow or absent database from holding
requests: a request waits `wait_s` at most for a connection, a statement runs
`statement_timeout_ms` at most (the session's setting, below the server's 5 s
and below nginx's 2.5 s read timeout, so the api answers before the proxy
gives up).
"""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool


def connection_options(statement_timeout_ms: int, application_name: str) -> dict[str, object]:
    """libpq parameters for each connection: name it, bound its statements and its connect."""
    return {
        "application_name": application_name[:63],
        "options": f"-c statement_timeout={statement_timeout_ms}",
        # libpq's minimum; the pool's own wait bounds a request well before it.
        "connect_timeout": 2,
    }


def make_pool(
    conninfo: str,
    *,
    max_size: int,
    wait_s: float,
    statement_timeout_ms: int,
    application_name: str,
) -> AsyncConnectionPool:
    """A pool not yet opened: `await pool.open(wait=False)` in the app's lifespan."""
    return AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        timeout=wait_s,
        open=False,
        name="orders",
        kwargs=connection_options(statement_timeout_ms, application_name),
        check=AsyncConnectionPool.check_connection,
        # Keep trying to reconnect for as long as the api runs, not 5 minutes.
        reconnect_timeout=24 * 3600,
    )
