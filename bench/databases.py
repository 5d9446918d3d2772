"""Ratios from one run: index lookup against scan, inserts against indexes, shards, pooling;
and the replica's lag under a stated write load.

On the lesson's own PostgreSQL (db-primary) and its million orders
(scenarios/databases/indexes.py, which makes them on first use): the
customer-and-month lookup's execution time (EXPLAIN ANALYZE's, so the client
and the network are not in it) with no index and with (customer_id,
created_at); and inserts/s of the same 50,000-row INSERT ... SELECT with 0
and 3 secondary indexes. Rounds alternate the variants, so a machine that
gets busier mid-run slows all alike; medians are reported.

Shards (scenarios/databases/shards.py): one customer's orders (the shard key:
one shard asked) against one order by id (both shards asked), through the
coordinator's postgres_fdw partitions, timed as the client sees each query
(its remote transactions' commits included), alternating, medians.

Pooling (scenarios/databases/pooling.py): 200 clients, each with its own kept
connection, send short transactions straight to db-primary and through
db-pooler (PgBouncer, transaction mode, 20 server connections), rounds
alternating: requests/s and p99 as the clients saw them, pooled / direct; and
one connection's set-up alone (connect and a first query), pooled / direct.

Replica (scenarios/databases/replica.py, run once): db-replica's replay lag
from the primary's pg_stat_replication, p50 and p99, under the part's write
load (LOAD_ROWS rows every LOAD_EVERY_S), with its rows/s and stale reads.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from rich.table import Table

from bench.support.narrate import measuring
from comms_sandbox.compose import start_services
from scenarios import narration
from scenarios.databases import SERVICES, db, indexes, pooling, replica, shards

NAME = "databases"  # python -m bench databases
LESSON = "databases"

LOOKUP_ROUNDS = 7
INSERT_ROUNDS = 3
SEQUENTIAL, INDEXED = "no index", "(customer_id, created_at)"


def run() -> dict[str, Any]:
    start_services(SERVICES)  # the lesson's own server, behind its profile (stopped after)
    indexes.ensure_orders()
    with db.owner_session() as conn:
        lookups: dict[str, list[float]] = {SEQUENTIAL: [], INDEXED: []}
        for round_ in range(1, LOOKUP_ROUNDS + 1):
            for variant, times in lookups.items():
                with measuring(f"lookup, {variant}", round_, LOOKUP_ROUNDS):
                    times.append(indexes.explain_without(conn, indexes.VARIANTS[variant])["ms"])
        inserts: dict[int, list[int]] = {0: [], 3: []}
        for round_ in range(1, INSERT_ROUNDS + 1):
            for count, rates in inserts.items():
                with measuring(f"inserts, {count} secondary indexes", round_, INSERT_ROUNDS):
                    rates.append(indexes.insert_cost(conn, count)["inserts_per_s"])
    with narration.part("shards, pooling and the replica's lag"):
        shard_ms, pooled, lag = shard_query_times(), pooling_ratios(), replica_lag()
    lookup_ms = {variant: statistics.median(ms) for variant, ms in lookups.items()}
    per_s = {count: statistics.median(values) for count, values in inserts.items()}
    return {
        "lookup_ms": lookup_ms,
        "inserts_per_s": per_s,
        "index_vs_sequential_time": round(lookup_ms[INDEXED] / lookup_ms[SEQUENTIAL], 5),
        "inserts_3_indexes_vs_none": round(per_s[3] / per_s[0], 3),
        "shards": shard_ms,
        "pooling": pooled,
        "replica": lag,
    }


def tables(result: dict[str, Any]) -> list[Table]:
    lookup = Table(title=f"one customer's month in 1,000,000 orders (median of {LOOKUP_ROUNDS})")
    for column in ("", "execution (ms)"):
        lookup.add_column(column, justify="right")
    for variant, ms in result["lookup_ms"].items():
        lookup.add_row(variant, f"{ms:.2f}")
    lookup.add_row("index / sequential scan", f"{result['index_vs_sequential_time']:.4f}")
    writes = Table(title=f"{indexes.WRITE_ROWS} inserts (median of {INSERT_ROUNDS})")
    for column in ("secondary indexes", "inserts/s"):
        writes.add_column(column, justify="right")
    for count, per_s in result["inserts_per_s"].items():
        writes.add_row(str(count), f"{per_s:.0f}")
    writes.add_row("3 / none", f"{result['inserts_3_indexes_vs_none']:.2f}")
    shards_tables = [shards_table(result["shards"])] if "shards" in result else []
    pooling_tables = [pooling_table(result["pooling"])] if "pooling" in result else []
    replica_tables = [replica_table(result["replica"])] if "replica" in result else []
    return [lookup, writes, *shards_tables, *pooling_tables, *replica_tables]


# Shards ---------------------------------------------------------------------------------

SHARD_ROUNDS = 200


def shard_query_times() -> dict[str, Any]:
    """Each of the shards part's two queries SHARD_ROUNDS times, alternating; medians in ms."""
    shards.set_up_coordinator()
    shards.ensure_table()
    shards.load()
    times: dict[str, list[float]] = {name: [] for name in shards.QUERIES}
    with db.connect("app", autocommit=True) as conn:
        for sql in shards.QUERIES.values():  # postgres_fdw's connections opened, plans warm
            conn.execute(sql).fetchall()
        for _ in range(SHARD_ROUNDS):
            for name, sql in shards.QUERIES.items():
                started = time.perf_counter()
                conn.execute(sql).fetchall()
                times[name].append((time.perf_counter() - started) * 1000)
    query_ms = {name: round(statistics.median(ms), 3) for name, ms in times.items()}
    return {"query_ms": query_ms,
            "single_vs_all_shards_time": round(
                query_ms[shards.KEYED] / query_ms[shards.UNKEYED], 3)}  # fmt: skip


def shards_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"through the coordinator, over {len(shards.SHARDS)} shards "
                        f"(median of {SHARD_ROUNDS}, as the client sees it)")  # fmt: skip
    for column in ("", "ms"):
        table.add_column(column, justify="right")
    for name, ms in result["query_ms"].items():
        table.add_row(name, f"{ms:.3f}")
    table.add_row("single shard / all shards", f"{result['single_vs_all_shards_time']:.2f}")
    return table


# Pooling: pooled / direct requests/s and p99 at 200 clients ------------------------------

POOLING_ROUNDS = 3
POOLING_REQUESTS = 10  # per client and round: each a short transaction (one INSERT), no sleep


def pooling_ratios() -> dict[str, Any]:
    """pooling.CLIENTS clients, each with its connection kept, sending POOLING_REQUESTS
    transactions, straight to db-primary and through db-pooler, rounds alternating; and one
    connection's set-up alone. Medians, and pooled / direct."""
    pooling.ensure_roles()
    with db.owner_session() as conn:
        conn.execute(pooling.SCHEMA)
    rounds: dict[str, list[dict[str, Any]]] = {way: [] for way in pooling.WAYS}
    for _ in range(POOLING_ROUNDS):
        for way, runs in rounds.items():
            crowd = pooling.crowd(way, POOLING_REQUESTS, work_s=0, measure_memory=False)
            runs.append({"requests_per_s": crowd["transactions_per_s"],
                         "p99_ms": crowd["transaction_ms"]["p99"],
                         "connect_ms": pooling.one_by_one(way)["p50"],
                         "errors": len(crowd["errors"])})  # fmt: skip
    median = {way: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
              for way, runs in rounds.items()}  # fmt: skip
    direct, pooled = median["direct"], median["pooled"]
    return {"clients": pooling.CLIENTS, "requests_per_client": POOLING_REQUESTS,
            "rounds": rounds, "median": median,
            "pooled_vs_direct_requests_per_s": round(
                pooled["requests_per_s"] / direct["requests_per_s"], 3),
            "pooled_vs_direct_p99": round(pooled["p99_ms"] / direct["p99_ms"], 3),
            "pooled_vs_direct_connect": round(pooled["connect_ms"] / direct["connect_ms"], 3),
            }  # fmt: skip


def pooling_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"{result['clients']} clients x {result['requests_per_client']} "
                        f"requests, kept connections (median of {POOLING_ROUNDS})")  # fmt: skip
    for column in ("", "requests/s", "p99 (ms)", "one connection's set-up (ms)"):
        table.add_column(column, justify="right")
    for way, m in result["median"].items():
        table.add_row(way, f"{m['requests_per_s']:.0f}", f"{m['p99_ms']:.1f}",
                      f"{m['connect_ms']:.1f}")  # fmt: skip
    table.add_row("pooled / direct", f"{result['pooled_vs_direct_requests_per_s']:.2f}",
                  f"{result['pooled_vs_direct_p99']:.2f}",
                  f"{result['pooled_vs_direct_connect']:.2f}")  # fmt: skip
    return table


# Replica lag: p99 under the replica part's write load -------------------------------------


def replica_lag() -> dict[str, Any]:
    """The replica part's run (scenarios/databases/replica.py): its load, lag and stale reads."""
    part = replica.run()
    return {
        "load": part["load"],
        "load_rows_per_s": part["load_rows_per_s"],
        "replay_lag_ms": part["replay_lag_ms"],
        "bytes_behind_max": part["bytes_behind_max"],
        "stale_reads": f"{part['naive']['stale']} of {part['naive']['reads']}",
    }


def replica_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"db-replica's replay lag (pg_stat_replication) under {result['load']}, "
                        f"{result['load_rows_per_s']} rows/s")  # fmt: skip
    for column in ("p50 ms", "p99 ms", "max ms", "WAL bytes behind (max)", "stale reads"):
        table.add_column(column, justify="right")
    lag = result["replay_lag_ms"]
    table.add_row(f"{lag['p50']:.1f}", f"{lag['p99']:.1f}", f"{lag['max']:.1f}",
                  str(result["bytes_behind_max"]), result["stale_reads"])  # fmt: skip
    return table
