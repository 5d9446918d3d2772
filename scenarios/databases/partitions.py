"""Partitions: orders split by month, and the planner skipping the months a query cannot need.

lesson.orders_by_month is PARTITION BY RANGE (created_at): one partition per
month of 2026, 12 in all, each an ordinary table holding its month's rows
(https://www.postgresql.org/docs/17/ddl-partitioning.html). 120,000 orders,
10,000 a month, are generated once by one INSERT ... SELECT over
generate_series (the database routes each row to its month) and kept in the
lesson's volume: much smaller than the million orders of the indexes part,
since what is shown here is which partitions a plan touches, not their size.

Four queries, each planned and run by EXPLAIN (ANALYZE, BUFFERS, FORMAT
JSON) as lesson_app; the partitions are counted from the plan
(https://www.postgresql.org/docs/17/ddl-partitioning.html#DDL-PARTITION-PRUNING):
- March by constants: the planner proves the other 11 months cannot match
  and leaves them out of the plan: 1 partition in it;
- March by a prepared statement's parameters, in a generic plan (the plan an
  application's cached statement reuses): the values are unknown when
  planning, so the plan holds all 12, and 11 are pruned as the executor
  starts: "Subplans Removed": 11, 1 scanned;
- March by a subquery's value: known only once the query runs; every
  partition stays in the plan, and 11 are pruned during execution: their
  scans show 0 loops ("never executed");
- one customer's orders: customer_id is not the partition key, so nothing can
  be pruned: all 12 partitions scanned.
A partition is *scanned* when its scan node ran (loops > 0). The verdicts
read plan nodes, loops and "Subplans Removed", which are the same on any
machine; the milliseconds are reported, never judged.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from scenarios.result import Check

from . import db

TABLE = "orders_by_month"
MONTHS = 12
ROWS = 120_000
# 262 s apart from 2026-01-01: 120,000 orders fill 364 days, about 10,000 a month.
GENERATE_ROWS = f"""INSERT INTO {TABLE}
SELECT i, mod(i * 7919, 10000) + 1, timestamptz '2026-01-01 00:00Z' + (i - 1) * interval '262 s',
       100 + mod(i * 37, 10000)
  FROM generate_series(1::bigint, {ROWS}) AS i"""
MONTH = ("2026-03-01 00:00Z", "2026-04-01 00:00Z")
MONTH_PARTITION = f"{TABLE}_2026_03"
CUSTOMER = 4242
# March's orders, between two bounds written in as each query needs them.
MONTH_QUERY = (f"SELECT count(*), sum(amount_cents) FROM {TABLE}"
               " WHERE created_at >= {} AND created_at < {}")  # fmt: skip
QUERIES = {
    "March, constants": MONTH_QUERY.format(
        f"'{MONTH[0]}'", f"'{MONTH[1]}'"),
    "March, a generic plan's parameters": (
        f"EXECUTE month_orders('{MONTH[0]}', '{MONTH[1]}')"),
    "March, a subquery's value": MONTH_QUERY.format(
        f"(SELECT timestamptz '{MONTH[0]}')", f"(SELECT timestamptz '{MONTH[1]}')"),
    "customer 4242 (not the partition key)": (
        f"SELECT id, created_at, amount_cents FROM {TABLE} WHERE customer_id = {CUSTOMER}"),
}  # fmt: skip
CONSTANTS, GENERIC, SUBQUERY, BY_CUSTOMER = QUERIES
SHORT = dict(zip(QUERIES, ("constants", "generic plan", "subquery", "by customer"), strict=True))
PREPARE = "PREPARE month_orders (timestamptz, timestamptz) AS " + MONTH_QUERY.format("$1", "$2")
SCANS = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan")


def run() -> dict[str, Any]:
    generated_s = ensure_table()
    with db.connect("app", autocommit=True) as conn:
        existing = partitions_of(conn)
        month_rows = conn.execute(f"SELECT count(*) FROM {MONTH_PARTITION}").fetchone()[0]
        # A generic plan, as a cached statement reuses: planned without the values.
        conn.execute(PREPARE)
        conn.execute("SET plan_cache_mode = force_generic_plan")
        plans = {name: summary(explain(conn, sql), existing) for name, sql in QUERIES.items()}
    return {"table": TABLE, "rows": ROWS, "partitions": len(existing), "generated_s": generated_s,
            "month": f"{MONTH[0][:10]} to {MONTH[1][:10]}", "month_partition": MONTH_PARTITION,
            "month_rows": month_rows, "queries": dict(QUERIES), "plans": plans,
            "holds": holds(len(existing), month_rows, plans)}  # fmt: skip


def ensure_table() -> float | None:
    """The partitioned table and its rows, made in one transaction unless there already.

    Seconds it took, or None when it was there (the lesson's volume keeps it).
    """
    with db.owner_session() as conn:
        if conn.execute("SELECT to_regclass(%s)", (MONTH_PARTITION,)).fetchone()[0]:
            return None
        started = time.monotonic()
        with conn.transaction():
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
            for statement in generate():
                conn.execute(statement)
        conn.execute(f"ANALYZE {TABLE}")
        return round(time.monotonic() - started, 1)


def generate() -> list[str]:
    """The parent, a partition per month of 2026 (bounds: from included, to excluded), the rows."""
    parent = (f"CREATE TABLE {TABLE} (id bigint NOT NULL, customer_id integer NOT NULL, "
              "created_at timestamptz NOT NULL, amount_cents integer NOT NULL) "
              "PARTITION BY RANGE (created_at)")  # fmt: skip
    months = [f"2026-{m:02d}-01 00:00Z" for m in range(1, MONTHS + 1)] + ["2027-01-01 00:00Z"]
    partitions = [
        f"CREATE TABLE {TABLE}_2026_{m + 1:02d} PARTITION OF {TABLE} "
        f"FOR VALUES FROM ('{months[m]}') TO ('{months[m + 1]}')"
        for m in range(MONTHS)
    ]
    return [parent, *partitions, GENERATE_ROWS]


def partitions_of(conn: psycopg.Connection) -> list[str]:
    """The partitions that exist, from the catalog (pg_inherits), by name."""
    query = """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = %s::regclass ORDER BY 1"""
    return [name for (name,) in conn.execute(query, (TABLE,)).fetchall()]


def explain(conn: psycopg.Connection, sql: str) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)'s one plan: {"Plan": ..., "Execution Time": ...}."""
    return conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}").fetchone()[0][0]


def walk(plan: dict) -> list[dict]:
    return [plan, *(node for child in plan.get("Plans", []) for node in walk(child))]


def summary(found: dict, existing: list[str]) -> dict[str, Any]:
    """Which partitions the plan holds, which it scanned, how many it removed, rows read."""
    nodes = walk(found["Plan"])
    scans = [n for n in nodes if n["Node Type"] in SCANS and n.get("Relation Name") in existing]
    ran = [n for n in scans if n.get("Actual Loops", 0) > 0]
    return {
        "in_plan": sorted({n["Relation Name"] for n in scans}),
        "scanned": sorted({n["Relation Name"] for n in ran}),
        "subplans_removed": sum(n.get("Subplans Removed", 0) for n in nodes),
        "rows_read": sum(round(n["Actual Rows"] * n["Actual Loops"]) for n in ran),
        "buffers": sum(n.get("Shared Hit Blocks", 0) + n.get("Shared Read Blocks", 0)
                       for n in ran),
        "nodes": [n["Node Type"] for n in nodes],
        "ms": round(found["Execution Time"], 2),
    }  # fmt: skip


def holds(partitions: int, month_rows: int, plans: dict[str, Any]) -> dict[str, Check]:
    constants, generic, subquery, by_customer = (plans[q] for q in QUERIES)
    month = [MONTH_PARTITION]
    return {
        f"March by constants: 1 partition of {partitions} in the plan, the others pruned": (
            partitions == MONTHS and constants["in_plan"] == constants["scanned"] == month
            and constants["subplans_removed"] == 0),
        f"March by a generic plan: {partitions - 1} Subplans Removed, 1 partition scanned": (
            generic["scanned"] == generic["in_plan"] == month
            and generic["subplans_removed"] == partitions - 1),
        f"March by a subquery: all {partitions} in the plan, 1 executed": (
            len(subquery["in_plan"]) == partitions and subquery["scanned"] == month),
        f"by customer (not the partition key): all {partitions} partitions scanned": (
            len(by_customer["scanned"]) == partitions and by_customer["subplans_removed"] == 0),
        "every March query read its partition's rows, and only those": (
            month_rows > 0
            and constants["rows_read"] == generic["rows_read"] == subquery["rows_read"]
            == month_rows),
    }  # fmt: skip
