"""The databases report: a table per part, the verdicts, and PNG charts."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from comms_sandbox.config import RESULTS_DIR
from scenarios.charts import save_bar_charts, save_timeseries
from scenarios.databases import partitions
from scenarios.report import latency_table, print_checks, records_table
from scenarios.result import ScenarioResult


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    parts = {"isolation": _render_isolation, "indexes": _render_indexes,
             "replica": _render_replica, "limits": _render_limits}  # fmt: skip
    parts |= {"partitions": _render_partitions, "shards": _render_shards}
    parts |= {"pooling": _render_pooling}
    for part, draw in parts.items():
        if part in m:  # a run of some parts only
            draw(m[part], console)
    print_checks(m["checks"], console)
    console.print(f"charts: {', '.join(charts(m))}")


def _render_isolation(p: dict[str, Any], console: Console) -> None:
    rows = [{"way": way, **run} for way, run in p["lost_updates"].items()]
    columns = ("way", "expected_stock", "final_stock", "sales_recorded", "lost",
               "serialization_failures", "seconds")  # fmt: skip
    console.print(records_table(
        f"{p['clients']} clients x {p['sales_per_client']} sales of one item "
        f"({p['think_ms']:.0f} ms between read and write), counted in PostgreSQL",
        rows, columns))  # fmt: skip
    skew = [{"isolation": level, "on call seen": run["on_call_seen"],
             "errors": "; ".join(run["errors"]) or "none",
             "retry": run["bob_retried"] or "", "on call after": run["on_call_after"]}
            for level, run in p["write_skew"].items()]  # fmt: skip
    console.print(records_table(
        "write skew: alice and bob each go off call if the other is on call",
        skew, ("isolation", "on call seen", "errors", "retry", "on call after")))  # fmt: skip


def _render_indexes(p: dict[str, Any], console: Console) -> None:
    made = (
        "kept from an earlier run" if p["generated_s"] is None else f"made in {p['generated_s']} s"
    )
    lookup = p["lookup"]
    rows = [{"index": variant, "plan": " > ".join(plan["nodes"]), "rows": plan["rows"],
             "buffers (hit+read)": f"{plan['buffers']} "
                                   f"({plan['buffers_hit']}+{plan['buffers_read']})",
             "ms": plan["ms"]} for variant, plan in p["plans"].items()]  # fmt: skip
    console.print(records_table(
        f"customer {lookup['customer']}'s orders from {lookup['start']} to {lookup['end']} "
        f"in {p['orders']:,} orders ({p['table_pages']} pages, {made})",
        rows, ("index", "plan", "rows", "buffers (hit+read)", "ms")))  # fmt: skip
    console.print(records_table(
        "the same inserts with 0, 1 and 3 secondary indexes",
        list(p["writes"].values()),
        ("secondary_indexes", "rows", "wal_records", "wal_records_per_row", "wal_bytes",
         "inserts_per_s", "ms")))  # fmt: skip


def _render_limits(p: dict[str, Any], console: Console) -> None:
    runaway = p["runaway"]
    error = runaway["error"] or {"sqlstate": None, "message": "not cancelled"}
    rows = [{"what": f"runaway query, statement_timeout {runaway['statement_timeout']}",
             "answer": f"{error['sqlstate']} {error['message']} after {runaway['seconds']} s"},
            *({"what": what, "answer": f"{d['sqlstate']} {d['message']}"}
              for what, d in p["denied"].items())]  # fmt: skip
    flood = p["connections"]
    refusal = flood["refusals"][0] if flood["refusals"] else "none"
    rows.append({"what": f"{flood['attempts']} connections, role limit {flood['role_limit']}",
                 "answer": f"{flood['opened']} opened, {len(flood['refusals'])} refused: "
                           f"{refusal}"})  # fmt: skip
    console.print(records_table("bad input and limits, as lesson_app", rows, ("what", "answer")))


def _render_replica(p: dict[str, Any], console: Console) -> None:
    console.print(
        f"replica under a write load ({p['load']}: {p['load_rows_per_s']} rows/s for "
        f"{p['seconds']} s): {', '.join(p['states'])}, at most {p['bytes_behind_max']} bytes "
        f"of WAL behind, caught up {p['caught_up_s']} s after the load"
    )
    console.print(latency_table("replay_lag (pg_stat_replication)",
                                {"replica": p["replay_lag_ms"]}))  # fmt: skip
    rows = [
        {"read on the replica": "at once", **p["naive"]},
        {"read on the replica": "after the writer's LSN was replayed", **p["waited"]},
    ]
    console.print(records_table("a row written on the primary, then read on the replica",
                                rows, ("read on the replica", "reads", "stale", "wait_timeouts",
                                       "wait_ms")))  # fmt: skip


POOLING_WAYS = {"direct": "straight to PostgreSQL", "pooled": "through PgBouncer"}


def _render_pooling(p: dict[str, Any], console: Console) -> None:
    held = [_pooling_server_row(label, p[way], way) for way, label in POOLING_WAYS.items()]
    console.print(records_table(
        f"{p['clients']} clients, {p['transactions_per_client']} transactions each "
        f"({p['work_ms']:.0f} ms of pg_sleep): what the server held",
        held, tuple(held[0])))  # fmt: skip
    seen = [_pooling_client_row(label, p[way], p["connect_one_by_one_ms"][way])
            for way, label in POOLING_WAYS.items()]  # fmt: skip
    console.print(records_table("what the clients saw (this run's timings only)",
                                seen, tuple(seen[0])))  # fmt: skip
    rows = [row for way, label in POOLING_WAYS.items()
            for row in _session_state_rows(label, p["session_state"][way])]  # fmt: skip
    console.print(records_table(
        "SET lesson.customer, pg_try_advisory_lock and PREPARE in one transaction, "
        "then the client's next transaction", rows, tuple(rows[0])))  # fmt: skip


def _pooling_server_row(label: str, c: dict[str, Any], way: str) -> dict[str, Any]:
    most, memory = c["most"], c["container_memory_mib"]
    return {"": label, "clients connected": c["connected"],
            "backends (pg_stat_activity)": most[f"{'direct' if way == 'direct' else 'pooler'}"
                                                "_backends"],
            "server connections (SHOW POOLS)": most["pool_servers"] if way == "pooled" else "",
            "clients waiting (most)": most["pool_waiting"] if way == "pooled" else "",
            "backends in the rows": c["rows"]["backends"],
            "backends' Pss MiB": c["backend_memory"]["pss_mib"],
            "private per backend MiB": c["backend_memory"]["private_per_backend_mib"],
            "db-primary MiB": f"{memory['before']['db-primary']} -> "
                              f"{memory['at_peak']['db-primary']}"}  # fmt: skip


def _pooling_client_row(label: str, c: dict[str, Any], alone: dict[str, float]) -> dict:
    return {"": label,
            "connect p50/p99 ms, all at once": f"{c['connect_ms']['p50']:.0f} / "
                                               f"{c['connect_ms']['p99']:.0f}",
            "connect p50 ms, one at a time": alone["p50"],
            "transactions/s": c["transactions_per_s"],
            "transaction p50/p99 ms": f"{c['transaction_ms']['p50']:.0f} / "
                                      f"{c['transaction_ms']['p99']:.0f}",
            "errors": len(c["errors"])}  # fmt: skip


def _session_state_rows(label: str, st: dict[str, Any]) -> list[dict[str, Any]]:
    second, prepared = st["second"], st["second"]["protocol_prepared"]
    rows = [{"": label, "backend: 1st -> 2nd transaction": f"{st['first_pid']} -> "
                                                           f"{st['second_pid']}",
             "lesson.customer": second["customer"] or "(unset)",
             "advisory lock held": second["lock_held_by_own_backend"],
             "EXECUTE lesson_q": second["sql_prepared"],
             "prepare=True ran on": prepared["pid"] or prepared["error"]}]  # fmt: skip
    other = st["other_client"]
    if other:
        rows.append({"": f"  the client handed backend {other['pid']}",
                     "backend: 1st -> 2nd transaction": "",
                     "lesson.customer": other["customer"] or "(unset)",
                     "advisory lock held": other["lock_held_by_own_backend"],
                     "EXECUTE lesson_q": "", "prepare=True ran on": ""})  # fmt: skip
    return rows


def charts(m: dict[str, Any]) -> list[str]:
    """What the run measured, as bars (databases.png) and the replica's lag over time."""
    written = []
    panels: dict[str, dict[str, int]] = {}
    if "indexes" in m:
        panels["pages read by the lookup (buffers)"] = {
            variant: plan["buffers"] for variant, plan in m["indexes"]["plans"].items()
        }
        panels["WAL records, 50,000 inserts"] = {
            f"{k} indexes": w["wal_records"] for k, w in m["indexes"]["writes"].items()
        }
    if "isolation" in m:
        panels["sales lost of 80"] = {
            way: run["lost"] for way, run in m["isolation"]["lost_updates"].items()
        }
    if "pooling" in m:
        pool = m["pooling"]
        panels["backends for 200 clients"] = {
            "direct": pool["direct"]["most"]["direct_backends"],
            "pooled": pool["pooled"]["most"]["pooler_backends"],
        }
        panels["their memory (Pss, MiB)"] = {
            way: pool[way]["backend_memory"]["pss_mib"] for way in ("direct", "pooled")
        }
    if "replica" in m:
        r = m["replica"]
        panels["stale reads on the replica"] = {
            "read at once": r["naive"]["stale"],
            "after the LSN": r["waited"]["stale"],
        }
        samples = r["samples"]
        written.append(str(save_timeseries(RESULTS_DIR / "databases-replica.png",
            f"the replica under a write load ({r['load']})",
            {"WAL bytes the replica's replay is behind": [
                (s["t_s"], s["bytes_behind"] or 0) for s in samples],
             "replay_lag (ms, pg_stat_replication)": [
                (s["t_s"], s["replay_lag_ms"] or 0) for s in samples]})))  # fmt: skip
    if "partitions" in m:
        p = m["partitions"]
        panels[f"partitions scanned, of {p['partitions']}"] = {
            partitions.SHORT.get(query, query): len(plan["scanned"])
            for query, plan in p["plans"].items()
        }
    if "shards" in m:
        panels["shard servers that ran the query (pg_stat_statements)"] = {
            query.split(" (")[0]: sum(w["scans"] > 0 for w in q["shards"].values())
            for query, q in m["shards"]["queries"].items()
        }
    if panels:
        written.insert(
            0,
            str(
                save_bar_charts(
                    RESULTS_DIR / "databases.png", "databases: what each way costs", panels, ""
                )
            ),
        )
    return written


def _render_partitions(p: dict[str, Any], console: Console) -> None:
    made = (
        "kept from an earlier run" if p["generated_s"] is None else f"made in {p['generated_s']} s"
    )
    rows = [{"query": query, "in the plan": len(plan["in_plan"]),
             "Subplans Removed": plan["subplans_removed"], "scanned": len(plan["scanned"]),
             "rows read": plan["rows_read"], "buffers": plan["buffers"], "ms": plan["ms"]}
            for query, plan in p["plans"].items()]  # fmt: skip
    console.print(records_table(
        f"{p['rows']:,} orders in {p['table']}, {p['partitions']} monthly partitions ({made}); "
        f"{p['month_partition']} holds {p['month_rows']:,}",
        rows, ("query", "in the plan", "Subplans Removed", "scanned", "rows read", "buffers",
               "ms")))  # fmt: skip


def _render_shards(p: dict[str, Any], console: Console) -> None:
    placement = ", ".join(f"{p['shards'][shard]} {rows}" for shard, rows in p["placement"].items())
    rows = [{"query": query, "rows": q["rows"],
             "plan's foreign scans": ", ".join(p["shards"][s["shard"]] for s in q["plan"]),
             **{p["shards"][shard]: f"{_count(work['scans'], 'scan')}, "
                                    f"{_count(work['rows_sent'], 'row')} sent"
                for shard, work in q["shards"].items()}}
            for query, q in p["queries"].items()]  # fmt: skip
    console.print(records_table(
        f"{p['orders']:,} orders of {p['customers']} customers, hash-partitioned by customer "
        f"over postgres_fdw ({placement}): what each shard's pg_stat_statements counted",
        rows, ("query", "rows", "plan's foreign scans", *p["shards"].values())))  # fmt: skip
    for query, q in p["queries"].items():
        for scan in q["plan"]:
            console.print(f"{query}: {p['shards'][scan['shard']]} runs {scan['remote_sql']}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
