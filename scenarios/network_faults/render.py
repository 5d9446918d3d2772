"""The network-faults report: a table per part, the verdicts, and a PNG timeline."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from comms_sandbox.config import RESULTS_DIR
from scenarios.charts import save_timeseries
from scenarios.report import records_table, verdict
from scenarios.result import ScenarioResult

CHART = "network-faults.png"


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    d = m["deadlines"]
    console.print(records_table(
        f"deadlines: {d['latency_ms']} ms more on pricing's answers, "
        f"a {d['api_deadline_s']} s deadline",
        [{**c, "deadline at pricing (ms)": d["pricing_saw_deadline_ms"].get(c["request_id"])}
         for c in d["slowed"]],
        ("request_id", "status", "seconds", "api_ms", "deadline at pricing (ms)"),
    ))  # fmt: skip
    console.print(records_table(
        "retries against failing answers: calls pricing handled per request",
        [{"policy": k, **v} for k, v in m["retries"]["policies"].items()],
        ("policy", "calls", "calls_at_pricing", "amplification", "statuses"),
    ))  # fmt: skip
    b = m["breaker"]
    console.print(f"breaker: {' | '.join(b['transitions'])}")
    refused = [c for c in b["calls"] if "circuit open" in str(c["breaker"])]
    if refused:
        console.print(
            f"breaker open: {len(refused)} refusals in at most "
            f"{max(c['api_ms'] or 0 for c in refused)} ms at the api, "
            f"{max(c['seconds'] for c in refused)} s at the client"
        )
    parts = (("partition", m["partition"]), ("database partition", m["database"]),
             *m["connections"]["faults"].items())  # fmt: skip
    for name, part in parts:
        console.print(records_table(
            f"orders under a fault: {name} (accepted {part['accepted']}, "
            f"converged {part['converged_s']} s after it ended)",
            part["during"], ("request_id", "status", "seconds"),
        ))  # fmt: skip
    bp = m["backpressure"]
    console.print(
        f"slow consumer: RabbitMQ held at most {bp['rabbitmq']['max_held_unacked']} unacked "
        f"(prefetch {bp['rabbitmq']['prefetch']}), queue up to {bp['rabbitmq']['max_depth']}; "
        f"Kafka lag up to {bp['kafka']['max_lag']}, then {bp['kafka']['final_lag']}"
    )
    for check, holds in m["checks"].items():
        console.print(f"{check}: {verdict(holds)}")
    console.print(f"timeline chart: {timeline_chart(m)}")


def timeline_chart(m: dict[str, Any]) -> str:
    calls = m["breaker"]["calls"]
    bp = m["backpressure"]
    panels = {
        "breaker: seconds per /quotes (open: ~0)": [(c["at_s"], c["seconds"]) for c in calls],
        "breaker: status of each /quotes": [(c["at_s"], c["status"]) for c in calls],
        "RabbitMQ: queue depth": [(s["t_s"], s["depth"]) for s in bp["rabbitmq"]["samples"]],
        "RabbitMQ: held unacked": [(s["t_s"], s["held"]) for s in bp["rabbitmq"]["samples"]],
        "Kafka: lag of the slow group": [(s["t_s"], s["lag"]) for s in bp["kafka"]["samples"]],
    }
    return str(save_timeseries(RESULTS_DIR / CHART, "network faults over time (s)", panels))
