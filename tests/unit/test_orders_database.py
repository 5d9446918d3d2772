"""Database failures as the api answers them: 503 or 504 with a reason, or a bug (no Docker)."""

import asyncio
import time

import psycopg
import pytest
from psycopg import errors
from psycopg_pool import PoolTimeout

from api.database import failure_of, first_connection
from api.settings import Settings
from orders_db.migrate import sqlalchemy_url
from orders_db.pool import connection_options, make_pool

SETTINGS = Settings(database_wait_s=1.0, database_statement_timeout_ms=1500)


@pytest.mark.parametrize(
    ("exc", "status", "words"),
    [
        (PoolTimeout("couldn't get a connection after 1.00 sec"), 503, "no connection within 1 s"),
        (errors.QueryCanceled("canceling statement due to statement timeout"), 504, "1500 ms"),
        (errors.AdminShutdown("terminating connection"), 503, "unavailable"),
        (errors.CannotConnectNow("the database system is starting up"), 503, "unavailable"),
        (errors.TooManyConnections("too many connections"), 503, "unavailable"),
        (psycopg.OperationalError("server closed the connection unexpectedly"), 503, "unavail"),
        (psycopg.InterfaceError("the connection is closed"), 503, "unavailable"),
        (errors.SerializationFailure("could not serialize"), 503, "retry"),
        (errors.DeadlockDetected("deadlock detected"), 503, "retry"),
    ],
)
def test_unavailable_or_slow_is_503_or_504_with_a_reason(
    exc: psycopg.Error, status: int, words: str
) -> None:
    failure = failure_of(exc, SETTINGS)
    assert failure is not None
    assert failure[0] == status and words in failure[1]


@pytest.mark.parametrize(
    "exc",
    [errors.InsufficientPrivilege("permission denied"), errors.UndefinedTable("no such table"),
     errors.CheckViolation("violates check constraint"), psycopg.ProgrammingError("bad query")],
)  # fmt: skip
def test_a_bug_is_not_dressed_up_as_unavailability(exc: psycopg.Error) -> None:
    assert failure_of(exc, SETTINGS) is None


def test_each_connection_is_named_and_bounded() -> None:
    options = connection_options(1500, "api replica-1")
    assert options["options"] == "-c statement_timeout=1500"
    assert options["application_name"] == "api replica-1"


def test_the_migrations_reach_postgres_through_psycopg_3() -> None:
    url = "postgresql://sandbox_owner:p%40ss@postgres:5432/sandbox"
    assert sqlalchemy_url(url) == "postgresql+psycopg://sandbox_owner:p%40ss@postgres:5432/sandbox"
    with pytest.raises(ValueError, match="postgresql://"):
        sqlalchemy_url("mysql://x@y/z")


def test_a_start_without_postgresql_waits_its_bound_then_serves_with_the_pool_still_open() -> None:
    async def start() -> tuple[bool, bool, float]:
        # Nothing listens on port 1: every connection attempt is refused.
        pool = make_pool("host=127.0.0.1 port=1 dbname=x user=x", max_size=1, wait_s=0.2,
                         statement_timeout_ms=100, application_name="test")  # fmt: skip
        await pool.open(wait=False)
        started = time.monotonic()
        got = await first_connection(pool, within_s=0.5)
        waited = time.monotonic() - started
        still_open = not pool.closed
        await pool.close()
        return got, still_open, waited

    got, still_open, waited = asyncio.run(start())
    assert not got
    assert still_open  # it keeps trying: the api recovers when PostgreSQL comes
    assert 0.4 < waited < 3.0
