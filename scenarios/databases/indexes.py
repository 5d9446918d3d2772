"""Indexes: one lookup in a million orders, with no index, the right one and the wrong one.

The orders are generated once, in the database, by one INSERT ... SELECT over
generate_series (a few seconds; kept in the lesson's volume): 1,000,000 rows,
10,000 customers with 100 orders each spread over 2026, in time order, as
a shop appends them. The lookup is one customer's orders of one month
(about 8 rows), as an order history page asks:

    SELECT id, created_at, amount_cents FROM orders
     WHERE customer_id = $1 AND created_at >= $2 AND created_at < $3

Each plan comes from EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON), in a
transaction that drops the indexes not being shown and is rolled back:
- no index: a sequential scan reads every page of the table;
- (customer_id, created_at): equality column first, then the range: the
  B-tree goes straight to the customer's month and reads a handful of pages
  (https://www.postgresql.org/docs/17/indexes-multicolumn.html: "the
  equality constraints on leading columns, plus any inequality constraints on
  the first column that does not have an equality constraint, will be used to
  limit the portion of the index that is scanned");
- (created_at, customer_id): the range first: the scan walks the whole
  month of every customer (a twelfth of the index) to find one customer's.
The verdicts read plan node types and buffer counts, which are the same on
any machine for the same data; times are reported, never judged (they are
the benchmark's: bench/databases.py).

Write cost: the same 50,000 inserts into a table with 0, 1 and 3 secondary
indexes: WAL records (each index entry is one more) and inserts/s, from
EXPLAIN (ANALYZE, WAL) of the INSERT.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from scenarios.result import Check

from . import db

ORDERS = 1_000_000
CUSTOMERS = 10_000
RIGHT = "orders_customer_time"  # (customer_id, created_at)
WRONG = "orders_time_customer"  # (created_at, customer_id)
LOOKUP = """SELECT id, created_at, amount_cents FROM orders
 WHERE customer_id = %(customer)s AND created_at >= %(start)s AND created_at < %(end)s"""
LOOKUP_ARGS = {"customer": 4242, "start": "2026-03-01", "end": "2026-04-01"}
VARIANTS = {"no index": (RIGHT, WRONG),  # variant -> the indexes it drops
            "(customer_id, created_at)": (WRONG,),
            "(created_at, customer_id)": (RIGHT,)}  # fmt: skip
# One orders table's worth of generated rows: customer i*7919 mod 10,000 (7919 is
# prime to 10,000, so each customer gets exactly 100 orders, spread over the year).
GENERATE = (
    """CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer NOT NULL,
                          created_at timestamptz NOT NULL, amount_cents integer NOT NULL,
                          status text NOT NULL)""",
    """INSERT INTO orders
       SELECT i, mod(i * 7919, 10000) + 1,
              timestamptz '2026-01-01 00:00Z' + i * interval '31.5 s',
              100 + mod(i * 37, 10000), (ARRAY['placed', 'paid', 'shipped'])[1 + mod(i, 3)]
         FROM generate_series(1::bigint, %(rows)s) AS i""",
    "CREATE INDEX orders_customer_time ON orders (customer_id, created_at)",
    "CREATE INDEX orders_time_customer ON orders (created_at, customer_id)",
)
WRITE_ROWS = 50_000
WRITE_INDEXES = ("(customer_id, created_at)", "(created_at)", "(amount_cents)")
WRITE_INSERT = """EXPLAIN (ANALYZE, WAL, BUFFERS, FORMAT JSON)
INSERT INTO write_cost
SELECT i, mod(i * 7919, 10000) + 1, timestamptz '2026-01-01 00:00Z' + i * interval '31.5 s',
       100 + mod(i * 37, 10000), 'placed'
  FROM generate_series(1::bigint, %(rows)s) AS i"""


def run() -> dict[str, Any]:
    generated_s = ensure_orders()
    with db.owner_session() as conn:
        pages = table_pages(conn, "orders")
        plans = {variant: explain_without(conn, dropped) for variant, dropped in VARIANTS.items()}
        writes = {k: insert_cost(conn, k) for k in (0, 1, 3)}
    return {"orders": ORDERS, "table_pages": pages, "generated_s": generated_s,
            "lookup": {"sql": " ".join(LOOKUP.split()), **LOOKUP_ARGS},
            "plans": plans, "writes": writes, "holds": holds(pages, plans, writes)}  # fmt: skip


def ensure_orders() -> float | None:
    """The million orders and both indexes, made in one transaction unless there already.

    Seconds it took, or None when they were there (the lesson's volume keeps them).
    """
    with db.owner_session() as conn:
        if conn.execute("SELECT to_regclass('orders_time_customer')").fetchone()[0]:
            return None
        started = time.monotonic()
        with conn.transaction():
            conn.execute("DROP TABLE IF EXISTS orders")
            for statement in GENERATE:
                conn.execute(statement, {"rows": ORDERS} if "%(rows)s" in statement else None)
        conn.execute("ANALYZE orders")
        return round(time.monotonic() - started, 1)


def table_pages(conn: psycopg.Connection, table: str) -> int:
    query = "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int"
    return conn.execute(query, (table,)).fetchone()[0]


def explain(conn: psycopg.Connection, sql: str, args: dict[str, Any] | None = None) -> dict:
    """EXPLAIN (ANALYZE, ...) FORMAT JSON's one plan: {"Plan": ..., "Execution Time": ...}."""
    return conn.execute(sql, args).fetchone()[0][0]


def explain_without(conn: psycopg.Connection, dropped: tuple[str, ...]) -> dict[str, Any]:
    """The lookup's plan with `dropped` indexes gone (rolled back after), run once warm."""
    try:
        with conn.transaction(force_rollback=True):
            for index in dropped:
                conn.execute(f"DROP INDEX {index}")  # our own constants, never input
            conn.execute(LOOKUP, LOOKUP_ARGS)  # the pages in cache: read counts alike
            found = explain(conn, f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {LOOKUP}",
                            LOOKUP_ARGS)  # fmt: skip
    except psycopg.errors.QueryCanceled as exc:  # the server's statement_timeout
        raise RuntimeError(f"the lookup without {dropped} ran past the timeout") from exc
    return summary(found)


def summary(found: dict) -> dict[str, Any]:
    plan = found["Plan"]
    return {
        "nodes": node_types(plan),
        "index": next((node["Index Name"] for node in walk(plan) if "Index Name" in node), None),
        "rows": plan["Actual Rows"],
        "buffers_hit": plan.get("Shared Hit Blocks", 0),
        "buffers_read": plan.get("Shared Read Blocks", 0),
        "buffers": plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0),
        "ms": round(found["Execution Time"], 2),
    }


def walk(plan: dict) -> list[dict]:
    return [plan, *(node for child in plan.get("Plans", []) for node in walk(child))]


def node_types(plan: dict) -> list[str]:
    return [node["Node Type"] for node in walk(plan)]


def insert_cost(conn: psycopg.Connection, indexes: int) -> dict[str, Any]:
    """WRITE_ROWS inserts into a fresh copy of orders' columns with `indexes` secondary ones."""
    conn.execute("DROP TABLE IF EXISTS write_cost")
    conn.execute("CREATE TABLE write_cost (LIKE orders INCLUDING ALL EXCLUDING INDEXES)")
    conn.execute("ALTER TABLE write_cost ADD PRIMARY KEY (id)")
    for n, columns in enumerate(WRITE_INDEXES[:indexes]):
        conn.execute(f"CREATE INDEX write_cost_{n} ON write_cost {columns}")  # constants
    plan = explain(conn, WRITE_INSERT, {"rows": WRITE_ROWS})
    top = plan["Plan"]
    seconds = plan["Execution Time"] / 1000
    conn.execute("DROP TABLE write_cost")
    records = top["WAL Records"]
    return {"secondary_indexes": indexes, "rows": WRITE_ROWS, "wal_records": records,
            "wal_bytes": top["WAL Bytes"], "wal_records_per_row": round(records / WRITE_ROWS, 2),
            "inserts_per_s": round(WRITE_ROWS / seconds),
            "ms": round(seconds * 1000, 1)}  # fmt: skip


SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


def holds(pages: int, plans: dict[str, Any], writes: dict[int, Any]) -> dict[str, Check]:
    none, right, wrong = (plans[v] for v in VARIANTS)
    wal = [writes[k]["wal_records"] for k in sorted(writes)]
    return {
        "without an index: a sequential scan reading every page": (
            any("Seq Scan" in n for n in none["nodes"]) and none["buffers"] >= 0.9 * pages),
        "with (customer_id, created_at): an index scan reading under 1% of the pages": (
            bool(SCANS & set(right["nodes"])) and right["index"] == RIGHT
            and right["buffers"] * 100 < pages),
        "(created_at, customer_id) reads at least 10x the pages of the right order": (
            wrong["buffers"] >= 10 * right["buffers"]),
        "the three plans return the same rows": none["rows"] == right["rows"] == wrong["rows"] > 0,
        "each secondary index adds WAL records to the same inserts": wal == sorted(set(wal)),
    }  # fmt: skip
