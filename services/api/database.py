"""The api's side of PostgreSQL: the pool's lifecycle, failures as 503 or 504, the key purge.

A database that is down, restarting or slow is the client's problem to wait
out, not a bug: those failures are answered 503 (retry later, with
Retry-After) or 504 (a statement ran past its statement_timeout, SQLSTATE
57014), each with a reason, never 500. Any other database error is a bug and
stays a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from psycopg import errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from api.identity import HOSTNAME
from api.settings import Settings
from orders_db import keys
from orders_db.pool import make_pool

log = logging.getLogger("api.database")

RETRY_AFTER_S = 1
PURGE_BATCH = 1000
# SQLSTATEs of failures a retry may get past: serialization, deadlock, lock not available.
RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected, errors.LockNotAvailable)


def build_pool(settings: Settings) -> AsyncConnectionPool | None:
    if not settings.database_url:
        return None
    return make_pool(
        settings.database_url,
        max_size=settings.database_pool_size,
        wait_s=settings.database_wait_s,
        statement_timeout_ms=settings.database_statement_timeout_ms,
        application_name=f"api {HOSTNAME}",
    )


def pool_of(request: Request) -> AsyncConnectionPool:
    pool: AsyncConnectionPool | None = request.app.state.database
    if pool is None:
        raise HTTPException(503, "orders: no database configured (API_DATABASE_URL)")
    return pool


def failure_of(exc: psycopg.Error, settings: Settings) -> tuple[int, str] | None:
    """(status, reason) for a failure of the database's availability; None for a bug."""
    state = f" (SQLSTATE {exc.sqlstate})" if exc.sqlstate else ""
    if isinstance(exc, PoolTimeout):
        return 503, (f"database: no connection within {settings.database_wait_s:g} s "
                     "(PostgreSQL is down or restarting, or every connection is busy)")  # fmt: skip
    if isinstance(exc, errors.QueryCanceled):
        limit = settings.database_statement_timeout_ms
        return 504, f"database: the statement ran past its {limit} ms and was cancelled{state}"
    if isinstance(exc, RETRYABLE):
        return 503, f"database: {type(exc).__name__}{state}: retry"
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return 503, f"database unavailable: {type(exc).__name__}{state}"
    return None


def database_error_handler(
    settings: Settings,
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, psycopg.Error)
        failure = failure_of(exc, settings)
        if failure is None:
            raise exc  # a bug: a 500, logged with its traceback
        status, reason = failure
        log.warning("%s %s: %s (%s)", request.method, request.url.path, reason, exc)
        headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else {}
        return JSONResponse({"detail": reason}, status_code=status, headers=headers)

    return handle


async def purge_keys_forever(pool: AsyncConnectionPool, every_s: float) -> None:
    """Delete expired idempotency keys, a batch each `every_s`, for the replica's life."""
    while True:
        await asyncio.sleep(every_s)
        try:
            async with pool.connection() as conn:
                deleted = await keys.purge_expired(conn, PURGE_BATCH)
            if deleted:
                log.info("purged %d expired idempotency keys", deleted)
        except psycopg.Error as exc:  # the database is away: try again next round
            log.warning("idempotency key purge skipped: %s", exc)


async def first_connection(pool: AsyncConnectionPool, within_s: float) -> bool:
    """Wait up to `within_s` for the pool's first connection; False (and a log line) if
    PostgreSQL did not give one by then: the api serves anyway, answering 503."""
    # Not pool.wait(): on a timeout it closes the pool, and the api could never recover.
    try:
        async with pool.connection(timeout=within_s):
            pass
    except PoolTimeout:
        log.warning("no database connection within %g s: starting anyway (503s)", within_s)
        return False
    return True


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[AsyncConnectionPool | None]:
    """The pool (or None when not configured), opened without waiting, and the purge task."""
    pool = build_pool(settings)
    if pool is None:
        yield None
        return
    await pool.open(wait=False)
    await first_connection(pool, settings.database_startup_wait_s)
    purge = asyncio.create_task(purge_keys_forever(pool, settings.idempotency_purge_every_s))
    try:
        yield pool
    finally:
        purge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purge
        await pool.close()
