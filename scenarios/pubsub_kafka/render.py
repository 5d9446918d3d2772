"""The pubsub-kafka report: publish, groups, lag, dead letter, replay, broker restart."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from scenarios.pubsub_kafka.verdicts import verdicts
from scenarios.report import records_table, verdict
from scenarios.result import ScenarioResult


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    console.print(f"run id {m['run_id']} (group ids pubsub-kafka-{m['run_id']}-*)")
    if "semantics" in m:
        s = m["semantics"]
        _published(s["published"], console)
        _lag(s["lag"], console)
        _queue(s["queue"], console)
        _fanout(s["fanout"], console)
        _dead_letter(s["dead_letter"], console)
        _replay(m["replay"], m["retention"], console)
    if "reliability" in m:
        _reliability(m["reliability"], console)
    table = Table(title="properties")
    table.add_column("property")
    table.add_column("holds")
    for claim, holds in verdicts(m).items():
        table.add_row(claim, verdict(holds))
    console.print(table)


def _published(p: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"published: {p['events']} events from {p['customers']} customers + 1 poison"
    )
    table.add_column("partition")
    table.add_column("events", justify="right")
    table.add_column("customers (key -> partition, by hash)")
    for tp, count in p["per_partition"].items():
        table.add_row(tp, str(count), " ".join(p["customers_per_partition"][tp]))
    console.print(table)
    poison = p["poison"]
    console.print(
        f"  poison record at orders-{poison['partition']} offset {poison['offset']}; "
        "no consumer was running: the records wait in the log until a group pulls them"
    )


def _lag(lag: dict[str, dict[str, dict[str, int]]], console: Console) -> None:
    groups = list(next(iter(lag.values())))
    table = Table(title="lag = end offset - committed offset (each group has its own offsets)")
    table.add_column("when")
    for group in groups:
        table.add_column(group, justify="right")
    for when, per_group in lag.items():
        cells = []
        for group in groups:
            values = per_group[group]
            parts = " ".join(f"{v}" for k, v in values.items() if k != "total")
            cells.append(f"{values['total']} ({parts})")
        table.add_row(when, *cells)
    console.print(table)


def _matrix(title: str, matrix: dict[str, dict[str, int]], per_partition: dict[str, int]) -> Table:
    table = Table(title=title)
    table.add_column("consumer")
    for tp in per_partition:
        table.add_column(tp, justify="right")
    table.add_column("total", justify="right")
    for consumer, row in matrix.items():
        table.add_row(
            consumer, *(str(row.get(tp, 0)) for tp in per_partition), str(sum(row.values()))
        )
    table.add_row(
        "all", *(str(n) for n in per_partition.values()), str(sum(per_partition.values()))
    )
    return table


def _counts_line(g: dict[str, Any]) -> str:
    return (
        f"processed {g['processed']} (unique {g['unique']}), lost [bold]{g['lost']}[/], "
        f"duplicates {g['duplicates']}, dead-lettered {g['dead_lettered']}, "
        f"per-key order violations [bold]{g['order_violations']}[/]"
    )


def _pulls(g: dict[str, Any]) -> str:
    return ", ".join(
        f"{name} {s['batches']} pulls"
        + (f", {s['commit_failures']} failed commits" if s["commit_failures"] else "")
        for name, s in g["members"].items()
    )


def _queue(q: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]queue group[/] {q['group_id']}: members share the partitions")
    rows = []
    for step in q["timeline"]:
        assignment = step.get("coverage", {}).get("assignment", step["assignment"])
        rows.append({
            "t (s)": step["t_s"],
            "event": step["event"],
            "assignment": "; ".join(f"{c}: {', '.join(tps)}" for c, tps in assignment.items()),
            "settled after (s)": step["settled_after_s"],
            "stall (s)": step.get("stall_s", "-"),
        })  # fmt: skip
    console.print(
        records_table(
            "membership changes (each one is a rebalance)",
            rows,
            ("t (s)", "event", "assignment", "settled after (s)", "stall (s)"),
        )
    )
    two = q["two_members"]
    overlap, uncovered = two["overlap"] or "none", two["uncovered"] or "none"
    console.print(
        f"  two members: overlap {overlap}, uncovered {uncovered}: "
        f"{verdict(two['holds'])}; after every change: "
        f"{verdict(all(s['coverage']['holds'] for s in q['timeline'][1:]))}"
    )
    console.print(
        _matrix(
            "events processed, consumer x partition", q["consumer_x_partition"], q["per_partition"]
        )
    )
    console.print(f"  {_counts_line(q)}")
    console.print(f"  pull: {_pulls(q)} (each member asks for up to 10 records when it is ready)")


def _fanout(f: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]fanout group[/] {f['group_id']}: a second group gets every record too")
    console.print(
        _matrix(
            "events processed, consumer x partition", f["consumer_x_partition"], f["per_partition"]
        )
    )
    console.print(f"  {_counts_line(f)}")


def _dead_letter(d: dict[str, Any], console: Console) -> None:
    console.print(
        records_table(
            f"orders.dead-letter: the poison record from {d['source']}",
            d["records"],
            ("dead_letter_offset", "group", "reason", "value_unchanged"),
        )
    )
    console.print(f"  once per group, with its reason, offset committed: {verdict(d['holds'])}")


def _replay(r: dict[str, Any], retention: dict[str, Any], console: Console) -> None:
    e, t = r["from_earliest"], r["from_timestamp"]
    console.print(
        f"[bold]replay[/] from the earliest offset ({e['log_start_offsets']}): "
        f"{e['records_in_log']} records in the log, this run's {e['this_run_replayed']} of "
        f"{e['published_this_run']} published ({e['earlier_runs_records']} from earlier runs): "
        f"{verdict(e['holds'])}\n"
        f"  from timestamp {t['timestamp_ms']} (offsets_for_times -> {t['start_offsets']}): "
        f"{t['replayed']} records, expected {t['expected']}: {verdict(t['holds'])}\n"
        f"  retention: log start offsets before {retention['log_start_before']}, after "
        f"{retention['log_start_after']}: consuming and committing deleted nothing"
    )


def _reliability(r: dict[str, Any], console: Console) -> None:
    events = ", ".join(f"{k} {v} s" for k, v in r["timeline_s"].items())
    console.print(
        f"[bold]broker restart[/]: {r['events']} events at {r['rate_per_s']}/s, "
        f"`docker kill` (SIGKILL) + `docker start` of {r['container']} "
        f"after {r['restart_after_sent']} sent; {events}"
    )
    table = Table(title="restart mid-stream")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, key in (
        ("acknowledged by the broker", "acknowledged"),
        ("given up after retries", "gave_up"),
        ("publish retries (same event id)", "publish_retries"),
        ("producers replaced after a sequence error", "producer_resets"),
        ("slowest acknowledgement (s)", "slowest_ack_s"),
        ("received, unique event ids", "received_unique"),
        ("lost (acknowledged, never consumed)", "lost"),
        ("duplicates (same event id again)", "duplicates"),
        ("received but never acknowledged", "received_but_not_acknowledged"),
        ("per-key order violations", "order_violations"),
    ):
        table.add_row(label, str(r[key]))
    console.print(table)
    console.print(f"  nothing acknowledged was lost: {verdict(r['holds'])}")
