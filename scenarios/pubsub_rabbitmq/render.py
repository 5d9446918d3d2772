"""The pubsub-rabbitmq report: per subscriber and per worker, the dead letters, the restart run."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from scenarios.report import bar, records_table, verdict
from scenarios.result import ScenarioResult

GROUP_ROWS = (
    ("consumers", "consumers"),
    ("received (unique)", "received_unique"),
    ("lost", "lost"),
    ("processed more than once", "processed_more_than_once"),
    ("duplicates skipped (event_id)", "duplicates_skipped"),
    ("redelivered", "redelivered"),
    ("dead-lettered", "dead_lettered"),
    ("reconnects", "reconnects"),
    ("per-key order violations", "per_key_order_violations"),
    ("other events (not this run's)", "other_events"),
)
DEAD_LETTER_COLUMNS = ("queue", "consumer", "attempts", "reason", "message_id")


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    if "pubsub" in m:
        _pubsub(m["pubsub"], console)
    if "restart" in m:
        _restart(m["restart"], console)


def _verdicts(holds: dict[str, bool], console: Console) -> None:
    for claim, held in holds.items():
        console.print(f"  {claim.replace('_', ' ')}: {verdict(held)}")


def groups_table(title: str, groups: dict[str, dict[str, Any]]) -> Table:
    """One column per subscriber (notifier, auditor, work queue), one row per count."""
    table = Table(title=title)
    table.add_column("")
    for role, g in groups.items():
        table.add_column(f"{role}\n{g['queue']}", justify="right")
    for label, key in GROUP_ROWS:
        table.add_row(label, *(str(g[key]) for g in groups.values()))
    return table


def per_consumer_table(title: str, counts: dict[str, int]) -> Table:
    """Events each consumer processed, with a bar of its share."""
    total = sum(counts.values())
    table = Table(title=title)
    for column in ("consumer", "events", "share"):
        table.add_column(column, justify="left" if column != "events" else "right")
    for name, count in sorted(counts.items()):
        share = count / total if total else 0
        table.add_row(name, str(count), f"{bar(share)} {share:.0%}")
    return table


def _pubsub(p: dict[str, Any], console: Console) -> None:
    pub = p["published"]
    console.print(
        f"published [bold]{pub['events']}[/] events + {pub['poison']} poison message to "
        f"sandbox.events (e.g. routing key {pub['routing_key_example']}), each confirmed before "
        f"the next: {pub['confirmed']} confirmed in {pub['duration_s']} s"
    )
    console.print(
        f"  stored for their subscribers before anyone consumed: {p['ready_before_consuming']}"
    )
    _push(p["peek"], console)
    console.print(groups_table(f"consumed in {p['consumed_in_s']} s", p["groups"]))
    work = p["groups"]["work"]
    console.print(
        per_consumer_table(
            "work queue: events per competing consumer", work["processed_per_consumer"]
        )
    )
    console.print(
        f"  per-key order: 0 violations is guaranteed only with one consumer per queue "
        f"(notifier, auditor); the {work['consumers']} competing workers finish events in "
        f"parallel, so a customer's events can complete out of order "
        f"({work['per_key_order_violations']} here)."
    )
    console.print(records_table(
        f"dead letters: the poison message, after {p['max_attempts']} attempts per queue",
        p["dead_letters"], DEAD_LETTER_COLUMNS,
    ))  # fmt: skip
    console.print(
        f"  after the acks, ready per queue: {p['ready_after_acks']}; "
        f"basic_get finds nothing: {p['basic_get_after_acks']}"
    )
    _verdicts(p["holds"], console)


def _push(peek: dict[str, Any], console: Console) -> None:
    console.print(
        f"  push: a consumer on {peek['queue']} with prefetch {peek['prefetch']} was sent "
        f"{peek['pushed_without_asking']} messages without asking (ready "
        f"{peek['ready_before']} -> {peek['ready_while_held_unacked']}); it closed its channel "
        f"without acking and they came back (ready {peek['ready_after_channel_closed']})"
    )


def _restart(r: dict[str, Any], console: Console) -> None:
    s, t = r["stream"], r["restart"]
    console.print(
        f"[bold]restart run[/]: {s['events']} events at {s['rate_per_s']}/s; "
        f"`docker kill` (SIGKILL) + `docker start` of {t.get('container')} "
        f"after {t.get('after_confirmed')} confirmed, "
        f"at {t.get('issued_at_s')} s, healthy again at {t.get('healthy_at_s')} s"
    )
    console.print(
        f"  publisher: {s['confirmed']} confirmed, {s['failed']} given up, "
        f"{s['resent']} sent again after a lost connection, {s['reconnects']} reconnects; "
        f"longest wait for one confirm {s['slowest_publish_s']} s; {s['duration_s']} s in all"
    )
    console.print(groups_table(f"drained in {r['drained_in_s']} s", r["groups"]))
    console.print(
        f"  lost (confirmed, never received): [bold]{r['lost_total']}[/]; "
        f"duplicates detected by event_id and skipped: [bold]{r['duplicates_total']}[/]"
    )
    _verdicts(r["holds"], console)
