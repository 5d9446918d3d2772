"""Shards: orders split by customer over two PostgreSQL servers, routed by the engine itself.

db-primary is the coordinator. lesson.orders_sharded is PARTITION BY HASH
(customer_id) with two partitions, and each partition is a postgres_fdw
foreign table whose rows live on a server of its own (db-shard-1, db-shard-2:
compose.yaml, shard-initdb/10-shard.sh). No routing code in the lesson: the
coordinator's planner prunes the partitions a query cannot need, exactly as
for local ones, and postgres_fdw sends each remaining partition's share of
the query to its server as SQL
(https://www.postgresql.org/docs/17/postgres-fdw.html,
https://www.postgresql.org/docs/17/ddl-partitioning.html#DDL-PARTITION-PRUNING).

The coordinator's set-up (the extension, a foreign server per shard, user
mappings) needs the superuser; initdb/20-shards.sh does it, idempotently, on
the container's socket, and the part runs it again first: a db-primary volume
made before the shards gets them too. lesson_owner then makes the table (once)
and loads ORDERS rows through the coordinator (each emptied and loaded again
every run: the shards' volumes may be newer than the coordinator's).

Which server ran what is read on each shard, from its own statistics:
pg_stat_statements counts every statement a server executes
(https://www.postgresql.org/docs/17/pgstatstatements.html). postgres_fdw
reads a remote table through a cursor: one `DECLARE ... CURSOR FOR SELECT ...
FROM shard.orders WHERE ...` per scan, then `FETCH`es (their rows are the rows
sent). Snapshots before and after each query, taken as shard_stats on the
shard's own socket, give per shard the scans it ran and the rows it sent:
- one customer's orders (customer_id, the shard key): the plan keeps one
  foreign partition; exactly one shard counts a scan, the one the plan named,
  and it sent the customer's rows;
- one order by its id (not the shard key): the plan keeps both; every shard
  counts a scan (and only one has the row).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from comms_sandbox import docker
from scenarios.result import Check

from . import db

PARENT = "orders_sharded"
SHARDS = {"shard_1": "db-shard-1", "shard_2": "db-shard-2"}  # foreign server -> service
CUSTOMERS, ORDERS_PER_CUSTOMER = 200, 10
ORDERS = CUSTOMERS * ORDERS_PER_CUSTOMER
# customer i*7919 mod 200 (7919 is prime to 200): every customer gets exactly 10 orders.
LOAD = f"""INSERT INTO {PARENT}
SELECT i, mod(i * 7919, {CUSTOMERS}) + 1, timestamptz '2026-01-01 00:00Z' + i * interval '1 hour',
       100 + mod(i * 37, 10000)
  FROM generate_series(1::bigint, {ORDERS}) AS i"""
CUSTOMER, ORDER_ID = 42, 1234
QUERIES = {
    "customer 42's orders (the shard key)": (
        f"SELECT id, created_at, amount_cents FROM {PARENT} WHERE customer_id = {CUSTOMER}"),
    "order 1234 (not the shard key)": (
        f"SELECT customer_id, created_at, amount_cents FROM {PARENT} WHERE id = {ORDER_ID}"),
}  # fmt: skip
KEYED, UNKEYED = QUERIES
COORDINATOR_SETUP = "/docker-entrypoint-initdb.d/20-shards.sh"
# Every statement the coordinator's role ran on this shard, as pg_stat_statements counts them.
SHARD_STATEMENTS = """SELECT coalesce(json_agg(json_build_object(
         'query', s.query, 'calls', s.calls, 'rows', s.rows)), '[]')
  FROM stats.pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
 WHERE s.userid = 'lesson_shard'::regrole AND d.datname = current_database()"""


def run() -> dict[str, Any]:
    set_up_coordinator()
    ensure_table()
    load()
    with db.connect("app", autocommit=True) as conn:
        servers = partition_servers(conn)
        placement = rows_per_shard(conn, servers)
        queries = {}
        before = shard_statements()
        for name, sql in QUERIES.items():
            plan = foreign_scans(conn, sql, servers)
            returned = len(conn.execute(sql).fetchall())
            after = shard_statements()
            queries[name] = {"sql": sql, "plan": plan, "rows": returned,
                             "shards": {shard: remote_work(before[shard], after[shard])
                                        for shard in SHARDS}}  # fmt: skip
            before = after
    return {"orders": ORDERS, "customers": CUSTOMERS, "shards": dict(SHARDS),
            "placement": placement, "queries": queries,
            "holds": holds(placement, queries)}  # fmt: skip


def set_up_coordinator() -> None:
    """postgres_fdw, the foreign servers and user mappings, as the superuser on the socket."""
    docker.run_in(container("db-primary"), "bash", COORDINATOR_SETUP)


def container(service: str) -> str:
    return docker.containers(service)[0].name


def ensure_table() -> None:
    """The hash-partitioned parent and a foreign-table partition per shard, unless there."""
    with db.owner_session() as conn:
        conn.execute(f"""CREATE TABLE IF NOT EXISTS {PARENT} (
            id bigint NOT NULL, customer_id integer NOT NULL,
            created_at timestamptz NOT NULL, amount_cents integer NOT NULL)
            PARTITION BY HASH (customer_id)""")
        for remainder, server in enumerate(SHARDS):
            conn.execute(f"""CREATE FOREIGN TABLE IF NOT EXISTS orders_{server}
                PARTITION OF {PARENT} FOR VALUES WITH (MODULUS {len(SHARDS)}, REMAINDER {remainder})
                SERVER {server} OPTIONS (schema_name 'shard', table_name 'orders')""")


def load() -> None:
    """ORDERS rows through the coordinator: each goes to its customer's partition's server."""
    with db.owner_session() as conn, conn.transaction():
        conn.execute(f"TRUNCATE {PARENT}")  # postgres_fdw truncates the remote tables
        conn.execute(LOAD)


def partition_servers(conn: psycopg.Connection) -> dict[str, str]:
    """Each foreign partition of the parent and its foreign server, from the catalog."""
    query = """SELECT c.relname, s.srvname
                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 JOIN pg_foreign_table f ON f.ftrelid = c.oid
                 JOIN pg_foreign_server s ON s.oid = f.ftserver
                WHERE i.inhparent = %s::regclass"""
    return dict(conn.execute(query, (PARENT,)).fetchall())


def rows_per_shard(conn: psycopg.Connection, servers: dict[str, str]) -> dict[str, int]:
    """How many orders each shard holds (each one counts its own, through its partition)."""
    query = f"SELECT tableoid::regclass::text, count(*) FROM {PARENT} GROUP BY 1"
    counted = dict(conn.execute(query).fetchall())
    return {shard: counted.get(partition, 0) for partition, shard in servers.items()}


def foreign_scans(conn: psycopg.Connection, sql: str,
                  servers: dict[str, str]) -> list[dict[str, str]]:  # fmt: skip
    """The coordinator's plan (EXPLAIN VERBOSE, not run): each foreign scan's shard and SQL."""
    (found,) = conn.execute(f"EXPLAIN (VERBOSE, FORMAT JSON) {sql}").fetchone()[0]
    return [{"shard": servers.get(node["Relation Name"], node["Relation Name"]),
             "remote_sql": node.get("Remote SQL", "")}
            for node in walk(found["Plan"]) if node["Node Type"] == "Foreign Scan"]  # fmt: skip


def walk(plan: dict) -> list[dict]:
    return [plan, *(node for child in plan.get("Plans", []) for node in walk(child))]


def shard_statements() -> dict[str, dict[str, dict[str, int]]]:
    """Per shard, pg_stat_statements' calls and rows by statement text, read on the shard."""
    with ThreadPoolExecutor(len(SHARDS)) as pool:
        return dict(zip(SHARDS, pool.map(statements_on, SHARDS.values()), strict=True))


def statements_on(service: str) -> dict[str, dict[str, int]]:
    out = docker.run_in(container(service), "psql", "-U", "shard_stats", "-d", "shard",
                        "-AtX", "-c", SHARD_STATEMENTS)  # fmt: skip
    return {s["query"]: {"calls": s["calls"], "rows": s["rows"]} for s in json.loads(out)}


def remote_work(before: dict[str, dict[str, int]],
                after: dict[str, dict[str, int]]) -> dict[str, Any]:  # fmt: skip
    """What a shard ran between two snapshots: scans of shard.orders (postgres_fdw's DECLARE
    ... CURSOR), the rows its FETCHes sent, and the scans' statements."""
    grown = {}
    for query, now in after.items():
        was = before.get(query, {"calls": 0, "rows": 0})
        if now["calls"] > was["calls"]:
            grown[query] = {"calls": now["calls"] - was["calls"], "rows": now["rows"] - was["rows"]}
    scans = {q: d for q, d in grown.items() if is_scan(q)}
    return {"scans": sum(d["calls"] for d in scans.values()),
            "rows_sent": sum(d["rows"] for q, d in grown.items() if q.startswith("FETCH")),
            "statements": sorted(" ".join(q.split()) for q in scans)}  # fmt: skip


def is_scan(query: str) -> bool:
    return query.startswith("DECLARE") and "FROM shard.orders" in query


def holds(placement: dict[str, int], queries: dict[str, Any]) -> dict[str, Check]:
    keyed, unkeyed = queries[KEYED], queries[UNKEYED]
    reached = [shard for shard, work in keyed["shards"].items() if work["scans"] > 0]
    planned = [scan["shard"] for scan in keyed["plan"]]
    everywhere = [work["scans"] for work in unkeyed["shards"].values()]
    return {
        "the coordinator's hash spread the orders over every shard": (
            sum(placement.values()) == ORDERS
            and all(rows * 2 * len(SHARDS) >= ORDERS for rows in placement.values())),
        f"with the shard key: 1 of {len(SHARDS)} shard servers ran a scan (their statistics)": (
            len(reached) == 1 and keyed["shards"][reached[0]]["scans"] == 1),
        "the shard the coordinator's plan named sent the customer's rows": (
            len(planned) == 1
            and keyed["shards"][planned[0]]["rows_sent"] == keyed["rows"] == ORDERS_PER_CUSTOMER),
        f"without it: every one of the {len(SHARDS)} shard servers ran a scan": (
            len(everywhere) == len(SHARDS) and min(everywhere) >= 1
            and len(unkeyed["plan"]) == len(SHARDS)),
        "the order was found once, sent by one shard": (
            unkeyed["rows"] == 1
            and sorted(w["rows_sent"] for w in unkeyed["shards"].values())
            == [0] * (len(SHARDS) - 1) + [1]),
    }  # fmt: skip
