"""Databases: isolation, indexes, a replica that lags, limits, partitions and shards, pooling.

The lesson runs a PostgreSQL 17 server of its own (db-primary, published on
127.0.0.1:5433) and a streaming replica of it (db-replica, 127.0.0.1:5434),
so that its million orders and its conflicting clients never load the
orders database of the default stack. The clients are on
the host (psycopg 3) and log in as lesson_app, a role that may only read
and write rows of the lesson's tables; every verdict is read back from the
database (its rows, EXPLAIN's plan and buffers, its error codes).

What to look at:
- isolation: 8 clients sell 80 units of one item concurrently: a plain
  read-then-write under READ COMMITTED loses sales (recorded sales against
  stock taken off); SELECT ... FOR UPDATE, an atomic UPDATE and SERIALIZABLE
  with retry on SQLSTATE 40001 lose none (the 40001s counted); a write skew
  (two doctors going off call) that only SERIALIZABLE stops;
- indexes: a lookup by customer and time range in a million orders:
  a sequential scan reading every page, the right composite index reading a
  handful, the wrong column order reading many more; the write cost of 0, 1
  and 3 secondary indexes (WAL records per insert, inserts/s);
- a replica that lags: db-replica, a hot standby streaming db-primary's
  WAL: how far behind it is under a write load (pg_stat_replication, replay
  LSNs), reads right after a write sent to it found stale, and 0 stale once
  the reader waits for the writer's commit LSN to be replayed;
- limits: a runaway query cut by statement_timeout (57014), the lesson's
  role refused another role's table (42501), a client opening too many
  connections refused by PostgreSQL while others are served;
- partitions: orders partitioned by month (12 partitions): a month's query
  keeps 1 of them (pruned while planning, as execution starts, or during
  it: counted from EXPLAIN's plan), a query by customer scans all 12;
- shards: orders hash-partitioned by customer over two more servers
  (db-shard-1, db-shard-2), each partition a postgres_fdw foreign table: a
  query with the customer runs on exactly one shard, one without it on
  both, as each shard's own pg_stat_statements counts;
- pooling: 200 clients straight to PostgreSQL (200 backends in
  pg_stat_activity, their memory from the kernel, connection set-up time)
  and through PgBouncer in transaction mode (db-pooler, 127.0.0.1:6433: at
  most 20 server connections, SHOW POOLS); a SET, an advisory lock and a
  PREPARE lost between two transactions of one pooled client, and found by
  the client that was handed its server connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from comms_sandbox.health import require_lesson_service
from comms_sandbox.ports import DATABASES, DATABASES_POOLER, DATABASES_REPLICA, HOST
from scenarios.databases import db, indexes, isolation, limits, partitions, pooling, replica, shards
from scenarios.databases.render import render
from scenarios.result import ScenarioResult, from_parts, run_parts

NAME = "databases"
# Where `--capture` records its packets (scenarios/capture.py).
CAPTURE_AT = ("db-pooler",)
ORDER = 78  # place in the syllabus: after idempotency-and-outbox (orders in PostgreSQL)
# What `make up LESSON=databases` starts: the lesson's own PostgreSQL, its replica, its
# shards, and PgBouncer in front of it.
SERVICES = ("db-primary", "db-replica", "db-shard-1", "db-shard-2", "db-pooler")
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = ("images/postgres/", "images/pgbouncer/")
PARTS: dict[str, Callable[[], dict[str, Any]]] = {
    "isolation": isolation.run,
    "indexes": indexes.run,
    "replica": replica.run,
    "limits": limits.run,
    "partitions": partitions.run,
    "shards": shards.run,
    "pooling": pooling.run,
}

__all__ = ["NAME", "ORDER", "SERVICES", "render", "run", "where"]


def where() -> list[tuple[str, str]]:
    return [
        ("the lesson's PostgreSQL (lesson_app)", f"postgresql://lesson_app@{HOST}:{DATABASES.port}/lesson"),
        ("its replica (reads only)", f"postgresql://lesson_app@{HOST}:{DATABASES_REPLICA.port}/lesson"),
        ("psql as its client", "docker compose exec db-primary psql -U lesson_app -d lesson"),
        ("a shard's statement statistics",
         "docker compose exec db-shard-1 psql -U shard_stats -d shard"),
        ("PgBouncer before it (lesson_crowd)",
         f"postgresql://lesson_crowd@{HOST}:{DATABASES_POOLER.port}/lesson"),
        ("PgBouncer's console (SHOW POOLS)",
         f"psql -h {HOST} -p {DATABASES_POOLER.port} -U lesson_pooler pgbouncer"),
    ]  # fmt: skip


def run() -> ScenarioResult:
    require_lesson_service("The lesson's PostgreSQL", db.answers, NAME)
    require_lesson_service("Its replica", lambda: db.answers("replica"), NAME)
    require_lesson_service("Its pooler (PgBouncer)", pooling.pooler_answers, NAME)
    results = run_parts(PARTS)  # each part narrated as it starts, its checks as it ends
    return from_parts(NAME, results, PARTS)
