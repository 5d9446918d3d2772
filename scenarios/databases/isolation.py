"""Isolation and lost updates: concurrent read-modify-write on one stock row, and a write skew.

Lost updates. CLIENTS clients each sell SALES units of one item, concurrently
(they start together at a barrier), by one of four ways; each sale is one
transaction that decrements the item's stock and records the sale in
lesson.sales. Both counts are read back from the database: a sale recorded
whose decrement is missing is a lost update (lost = sales recorded - units
taken off the stock).
- plain: SELECT the count, compute, UPDATE it, under READ COMMITTED (the
  default). Two clients read the same count, both write count - 1: one sale
  is lost. A pause between read and write (THINK_S, an application doing
  work) makes the race reliable even on a busy machine;
- for update: the same with SELECT ... FOR UPDATE: the row is locked at the
  read, the next client waits and reads the new count;
- atomic: UPDATE ... SET count = count - 1: the database reads and writes;
- serializable: the plain way under SERIALIZABLE: the second writer gets
  SQLSTATE 40001 (could not serialize access due to concurrent update), rolls
  back and retries; failures and retries are counted.

Write skew (https://www.postgresql.org/docs/17/transaction-iso.html#XACT-SERIALIZABLE):
two doctors on call, each may go off call if the other stays. Two
transactions, interleaved step by step (so the outcome is the same every
run): both count who is on call (2), each takes itself off, both commit.
They write different rows, so no row lock or update conflict stops them:
under READ COMMITTED and REPEATABLE READ nobody is left on call. Only
SERIALIZABLE sees the read-write dependency and fails one with 40001; its
retry counts again, finds 1 on call, and stays.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg import IsolationLevel, errors

from scenarios.result import Check, NotShown

from . import db

CLIENTS, SALES = 8, 10  # 80 sales per way
START_STOCK = 1000
THINK_S = 0.005  # between the read and the write: the application at work
MAX_ATTEMPTS = 500  # per sale, under SERIALIZABLE (a bound, never reached in practice)
WAYS = ("plain", "for update", "atomic", "serializable")
SKEW_LEVELS = {"read committed": IsolationLevel.READ_COMMITTED,
               "repeatable read": IsolationLevel.REPEATABLE_READ,
               "serializable": IsolationLevel.SERIALIZABLE}  # fmt: skip

SCHEMA = """
CREATE TABLE IF NOT EXISTS stock (item text PRIMARY KEY, count integer NOT NULL);
CREATE TABLE IF NOT EXISTS sales (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                  item text NOT NULL, client integer NOT NULL);
CREATE TABLE IF NOT EXISTS on_call (shift text, doctor text, on_call boolean NOT NULL,
                                    PRIMARY KEY (shift, doctor));
"""


def run() -> dict[str, Any]:
    prepare()
    lost_updates = {way: sell_concurrently(way) for way in WAYS}
    skew = {level: write_skew(level) for level in SKEW_LEVELS}
    return {"clients": CLIENTS, "sales_per_client": SALES, "think_ms": THINK_S * 1000,
            "lost_updates": lost_updates, "write_skew": skew,
            "holds": holds(lost_updates, skew)}  # fmt: skip


def prepare() -> None:
    """The tables (made once, by the owner), emptied of an earlier run's rows."""
    with db.owner_session() as conn:
        conn.execute(SCHEMA)
        conn.execute("TRUNCATE stock, sales, on_call")
        conn.execute("INSERT INTO stock SELECT unnest(%s::text[]), %s", (list(WAYS), START_STOCK))


# One sale, each way: a transaction on `conn` (not autocommit) that takes one unit
# off `item` and records the sale. Only "serializable" may raise 40001.
def sell_plain(conn: psycopg.Connection, item: str, client: int) -> None:
    (count,) = conn.execute("SELECT count FROM stock WHERE item = %s", (item,)).fetchone()
    time.sleep(THINK_S)
    conn.execute("UPDATE stock SET count = %s WHERE item = %s", (count - 1, item))
    record_sale(conn, item, client)


def sell_for_update(conn: psycopg.Connection, item: str, client: int) -> None:
    query = "SELECT count FROM stock WHERE item = %s FOR UPDATE"
    (count,) = conn.execute(query, (item,)).fetchone()
    time.sleep(THINK_S)
    conn.execute("UPDATE stock SET count = %s WHERE item = %s", (count - 1, item))
    record_sale(conn, item, client)


def sell_atomic(conn: psycopg.Connection, item: str, client: int) -> None:
    time.sleep(THINK_S)  # the same work, done before the one statement
    conn.execute("UPDATE stock SET count = count - 1 WHERE item = %s", (item,))
    record_sale(conn, item, client)


def record_sale(conn: psycopg.Connection, item: str, client: int) -> None:
    conn.execute("INSERT INTO sales (item, client) VALUES (%s, %s)", (item, client))
    conn.commit()


SELLERS: dict[str, Callable[[psycopg.Connection, str, int], None]] = {
    "plain": sell_plain, "for update": sell_for_update,
    "atomic": sell_atomic, "serializable": sell_plain,
}  # fmt: skip


def sell_concurrently(way: str) -> dict[str, Any]:
    """CLIENTS clients sell SALES units of item `way` each; counted in the database after."""
    barrier = threading.Barrier(CLIENTS)
    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = list(pool.map(lambda c: client_sells(way, c, barrier), range(CLIENTS)))
    seconds = time.monotonic() - started
    final, recorded = counted(way)
    return {"expected_stock": START_STOCK - CLIENTS * SALES, "final_stock": final,
            "sales_recorded": recorded, "lost": recorded - (START_STOCK - final),
            "serialization_failures": sum(clients), "seconds": round(seconds, 2)}  # fmt: skip


def client_sells(way: str, client: int, barrier: threading.Barrier) -> int:
    """One client's SALES sales; the serialization failures (each one retried) it met."""
    sell = SELLERS[way]
    failures = 0
    with db.connect("app") as conn:
        if way == "serializable":
            conn.isolation_level = IsolationLevel.SERIALIZABLE
        barrier.wait(timeout=30)
        for _ in range(SALES):
            failures += with_retry(lambda: sell(conn, way, client), conn)
    return failures


def with_retry(transaction: Callable[[], None], conn: psycopg.Connection) -> int:
    """Run `transaction` until it commits; retried on 40001 only. The failures it took."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            transaction()
            return attempt
        except errors.SerializationFailure:
            conn.rollback()
    raise RuntimeError(f"no commit after {MAX_ATTEMPTS} attempts")


def counted(item: str) -> tuple[int, int]:
    """The item's stock and its sales recorded, as the database holds them."""
    with db.connect("app", autocommit=True) as conn:
        (final,) = conn.execute("SELECT count FROM stock WHERE item = %s", (item,)).fetchone()
        query = "SELECT count(*) FROM sales WHERE item = %s"
        (recorded,) = conn.execute(query, (item,)).fetchone()
    return final, recorded


def write_skew(level: str) -> dict[str, Any]:
    """Alice and Bob both go off call at `level`, step by step; who is on call after."""
    with db.connect("app", autocommit=True) as setup:
        setup.execute("INSERT INTO on_call VALUES (%s, 'alice', true), (%s, 'bob', true)",
                      (level, level))  # fmt: skip
    alice, bob = db.connect("app"), db.connect("app")
    try:
        for conn in (alice, bob):
            conn.isolation_level = SKEW_LEVELS[level]
        seen = [on_call_count(conn, level) for conn in (alice, bob)]
        errors_seen = interleave_off_call(level, alice, bob, seen)
        retried = retry_bob(level, bob) if errors_seen else None
    finally:
        alice.close()
        bob.close()
    return {"on_call_seen": seen, "errors": errors_seen, "bob_retried": retried,
            "on_call_after": final_on_call(level)}  # fmt: skip


def on_call_count(conn: psycopg.Connection, level: str) -> int:
    query = "SELECT count(*) FROM on_call WHERE shift = %s AND on_call"
    return conn.execute(query, (level,)).fetchone()[0]


def go_off_call(conn: psycopg.Connection, level: str, doctor: str) -> None:
    query = "UPDATE on_call SET on_call = false WHERE shift = %s AND doctor = %s"
    conn.execute(query, (level, doctor))


def interleave_off_call(level: str, alice: psycopg.Connection, bob: psycopg.Connection,
                        seen: list[int]) -> list[str]:  # fmt: skip
    """Each saw 2 on call, so each goes off; then both commit. The SQLSTATEs raised."""
    raised = []
    steps = [(alice, lambda: go_off_call(alice, level, "alice")),
             (bob, lambda: go_off_call(bob, level, "bob")),
             (alice, alice.commit), (bob, bob.commit)]  # fmt: skip
    failed: set[int] = set()
    for conn, step in steps:
        if id(conn) in failed or min(seen) < 2:
            continue
        try:
            step()
        except errors.SerializationFailure as exc:
            raised.append(f"{exc.sqlstate}: {exc.diag.message_primary}")
            conn.rollback()
            failed.add(id(conn))
    return raised


def retry_bob(level: str, bob: psycopg.Connection) -> dict[str, Any]:
    """Bob's transaction again, from its start: he counts again and decides again."""
    count = on_call_count(bob, level)
    if count >= 2:
        go_off_call(bob, level, "bob")
    bob.commit()
    return {"on_call_seen": count, "went_off_call": count >= 2}


def final_on_call(level: str) -> int:
    with db.connect("app", autocommit=True) as conn:
        return on_call_count(conn, level)


def holds(lost_updates: dict[str, Any], skew: dict[str, Any]) -> dict[str, Check]:
    sales = CLIENTS * SALES
    safe = {way: lost_updates[way]["lost"] == 0 and lost_updates[way]["sales_recorded"] == sales
            for way in WAYS[1:]}  # fmt: skip
    return {
        "plain read-then-write under READ COMMITTED loses updates": plain_loses(
            lost_updates["plain"]),
        "SELECT ... FOR UPDATE loses none": safe["for update"],
        "an atomic UPDATE loses none": safe["atomic"],
        "SERIALIZABLE with retry on 40001 loses none": safe["serializable"],
        "SERIALIZABLE failed conflicts with 40001, their retries committed": (
            conflicts_retried(lost_updates["serializable"])),
        "write skew leaves nobody on call under REPEATABLE READ": (
            skew["repeatable read"]["on_call_after"] == 0),
        "SERIALIZABLE catches the write skew (40001, one stays on call)": skew_caught(
            skew["serializable"]),
    }  # fmt: skip


def plain_loses(run: dict[str, Any]) -> Check:
    """Lost sales prove the race; none means the clients never overlapped: not shown."""
    if run["lost"] == 0 and run["sales_recorded"] == CLIENTS * SALES:
        return NotShown("the plain clients never read the same count: no race to lose to")
    return run["lost"] > 0 and run["sales_recorded"] == CLIENTS * SALES


def conflicts_retried(run: dict[str, Any]) -> Check:
    """40001s met, and every sale committed in the end (counted in the database)."""
    if run["serialization_failures"] == 0 and run["sales_recorded"] == CLIENTS * SALES:
        return NotShown("no two serializable clients overlapped: nothing to retry")
    return run["serialization_failures"] > 0 and run["sales_recorded"] == CLIENTS * SALES


def skew_caught(run: dict[str, Any]) -> bool:
    return run["on_call_after"] == 1 and any(e.startswith("40001") for e in run["errors"])
