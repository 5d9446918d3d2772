"""The idempotency-and-outbox report: a table per part, the verdicts, and a PNG over time."""

from __future__ import annotations

import json
from itertools import accumulate
from typing import Any

from rich.console import Console

from comms_sandbox.config import RESULTS_DIR
from scenarios.charts import save_lines
from scenarios.report import print_checks, records_table
from scenarios.result import ScenarioResult

CHART = "idempotency-and-outbox.png"
BROKERS = ("rabbitmq", "kafka")


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    _render_idempotency(m["idempotency"], console)
    _render_faults(m["relay and broker faults"], console)
    _render_competing(m["competing relays"], console)
    _render_dual_write(m["dual write"], console)
    print_checks(m["checks"], console)
    console.print(f"chart: {faults_chart(m['relay and broker faults'])}")


def _render_idempotency(p: dict[str, Any], console: Console) -> None:
    rows = [
        {"": "without a key" if not run["idempotency_key"] else "with an Idempotency-Key",
         "orders meant": run["orders_meant"], "attempts": run["attempts"],
         "answers cut": run["cut"], "answers": json.dumps(run["answers"]),
         "rows in PostgreSQL": run["rows"], "duplicates": run["duplicates"]}
        for run in (p["without_key"], p["with_key"])
    ]  # fmt: skip
    columns = ("", "orders meant", "attempts", "answers cut", "answers", "rows in PostgreSQL",
               "duplicates")  # fmt: skip
    console.print(records_table("each order's first answer cut after the commit, then retried",
                                rows, columns))  # fmt: skip
    other, flight = p["other_body"], p["in_flight"]
    conflicts = [
        {"case": f"{other['keys']} keys, each sent again with another body",
         "answers": json.dumps(other["other_body_answers"]), "rows": other["rows"]},
        {"case": "one key, its first request held in flight by a lock, "
                 f"{sum(flight['during_answers'].values())} more meanwhile",
         "answers": f"first {flight['first']['status']}, meanwhile "
                    f"{json.dumps(flight['during_answers'])}, after "
                    f"{flight['after']['status']}"
                    f"{' replayed' if flight['after']['replayed'] else ''}",
         "rows": flight["rows"]},
    ]  # fmt: skip
    console.print(records_table("the same key, reused", conflicts, ("case", "answers", "rows")))


def _broker_rows(m: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"broker": b, **m[b]} for b in BROKERS]


BROKER_COLUMNS = ("broker", "delivered", "lost", "duplicates", "not_stored", "order_violations")


def _render_faults(f: dict[str, Any], console: Console) -> None:
    timeline = ", ".join(f"{e['event']} {e['t_s']} s" for e in f["timeline"])
    console.print(f"relay and broker faults: {timeline}")
    title = (f"{f['orders_placed']} orders at {f['rate_per_s']}/s, answers "
             f"{json.dumps(f['answers'])}, {f['orders_stored']} stored; every relay "
             f"SIGKILLed, then {f['broker_stopped']} stopped; drained "
             f"{f['drained_after_s']} s after")  # fmt: skip
    console.print(records_table(title, _broker_rows(f), BROKER_COLUMNS))
    console.print(f"the other broker received {f['other_broker_during_outage']} orders "
                  f"while {f['broker_stopped']} was down")  # fmt: skip


def _render_competing(c: dict[str, Any], console: Console) -> None:
    shares = {name: {b: int(n) for b, n in counts.items()}
              for name, counts in c["published_per_replica"].items()}  # fmt: skip
    title = (f"two relays let go on a backlog of {c['backlog']} at once: per replica "
             f"{json.dumps(shares)}; drained {c['drained_after_s']} s after")  # fmt: skip
    console.print(records_table(title, _broker_rows(c), BROKER_COLUMNS))


def _render_dual_write(d: dict[str, Any], console: Console) -> None:
    broker = d["broker_stopped"]
    other = next(b for b in BROKERS if b != broker)
    rows = [
        {"": "orders placed / stored", "value": f"{d['orders_placed']} / {d['orders_stored']}"},
        {"": "answers", "value": json.dumps(d["answers"])},
        {"": f"stored and in {other}, not in {broker}",
         "value": d[f"in_{other}_not_{broker}"]},
        {"": "stored and in neither broker", "value": d["stored_in_neither"]},
        {"": f"in {broker} once the relay took over",
         "value": f"{d[f'in_{broker}_once_the_relay_took_over']} "
                  f"({d['relay_repaired_after_s']} s)"},
    ]  # fmt: skip
    title = f"the dual write (ORDERS_PUBLISH=dual-write) with {broker} stopped"
    console.print(records_table(title, rows, ("", "value")))


def chart_lines(f: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """Cumulative per second, from the outbox's own times: orders stored (created_at), and
    orders each broker confirmed (the relay's mark after the confirm, to the millisecond)."""
    names = {"stored": "orders stored (outbox created_at)",
             "rabbitmq": "confirmed by RabbitMQ (rabbitmq_published_at)",
             "kafka": "confirmed by Kafka (kafka_published_at)"}  # fmt: skip
    return {
        names[series]: [(second + 1, total) for second, total in enumerate(accumulate(bins))]
        for series, bins in f["per_second"].items()
    }


def faults_chart(f: dict[str, Any]) -> str:
    marks = {e["event"]: e["t_s"] for e in f["timeline"] if e["event"] != "orders stop"}
    title = "orders stored against events confirmed per broker: relay SIGKILL, broker stop"
    path = save_lines(RESULTS_DIR / CHART, title, chart_lines(f), marks, ylabel="orders")
    return str(path)
