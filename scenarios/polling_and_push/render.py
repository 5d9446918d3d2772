"""The report: one table of the methods side by side, the failover, memory, and a PNG chart."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from comms_sandbox.config import RESULTS_DIR
from scenarios.charts import save_bar_charts
from scenarios.report import verdict
from scenarios.result import ScenarioResult

CHART = "polling-and-push.png"

TRADE_OFFS = (
    "Short polling is the simplest and works through anything, but each event waits for the next "
    "question (up to a whole interval) and most questions come back empty: cheap with ETag/304, "
    "yet never free. Long polling answers as soon as there is news, at the price of a request "
    "held open per client and a new request after every answer. Server-sent events keep one "
    "response open and push each event with an id, so a reconnect resumes exactly; it is one-way "
    "and plain HTTP. WebSocket is two-way on one upgraded connection (subscribe, ping), but needs "
    "its own protocol and proxy settings. gRPC streaming gives typed messages and deadlines over "
    "HTTP/2, for service-to-service more than for browsers. Streams cost memory on the replica "
    "per connected client; polling costs requests and bytes per question."
)


def methods_table(side: dict[str, Any]) -> Table:
    table = Table(
        title=(
            f"{side['events']} events at {side['rate_per_s']}/s to "
            f"{side['clients_per_method']} clients per method"
        ),
        caption=(
            f"short polling: a poll every {side['poll_interval_s']} s; from a poll's request to "
            f"the next one's answer (a cycle): p50 {side['poll_cycle_ms']['p50']:.0f} ms, "
            f"max {side['poll_cycle_ms']['max']:.0f} ms"
        ),
    )
    for column in ("method", "delivered all", "delay p50 (ms)", "delay p99 (ms)", "requests",
                   "empty answers", "connections (nginx)", "bytes (nginx)"):  # fmt: skip
        table.add_column(column, justify="right" if column != "method" else "left")
    for method, m in side["methods"].items():
        table.add_row(
            method,
            verdict(m["delivered_all"]),
            f"{m['delay_ms']['p50']:.1f}",
            f"{m['delay_ms']['p99']:.1f}",
            str(m["requests"]),
            str(m["empty_answers"]),
            str(m["connections_at_proxy"]),
            f"{m['bytes_at_proxy']:,}",
        )
    return table


def failover_table(failover: dict[str, Any]) -> Table:
    killed = failover["killed"]
    table = Table(
        title=f"api replica {killed.get('container', '?')} killed mid-stream "
        f"({failover['events']} events)"
    )
    for column in ("method", "clients", "on the killed replica", "reconnects", "lost", "dups"):
        table.add_column(column, justify="right" if column != "method" else "left")
    for method, m in failover["methods"].items():
        gaps = m["gaps"].values()
        table.add_row(
            method, str(m["clients"]), str(m["on_the_killed_replica"]), str(m["reconnects"]),
            str(sum(g["missing"] for g in gaps)), str(sum(g["duplicates"] for g in gaps)),
        )  # fmt: skip
    return table


def memory_table(memory: dict[str, Any]) -> Table:
    table = Table(title="api replicas' memory per connected client (docker stats)")
    for column in ("method", "connected", "before (MiB)", "with clients (MiB)", "KiB per client"):
        table.add_column(column, justify="right" if column != "method" else "left")
    for method, m in memory.items():
        table.add_row(
            method, str(m["connected"]), f"{m['api_memory_before_mib']:.1f}",
            f"{m['api_memory_with_clients_mib']:.1f}", f"{m['kib_per_client']:.1f}",
        )  # fmt: skip
    return table


def save_chart(side: dict[str, Any]) -> str:
    methods = side["methods"]
    panels = {
        "delay p99 (ms)": {k: round(m["delay_ms"]["p99"]) for k, m in methods.items()},
        "requests": {k: m["requests"] for k, m in methods.items()},
        "empty answers": {k: m["empty_answers"] for k, m in methods.items()},
        "KiB on the wire (nginx)": {k: m["bytes_at_proxy"] // 1024 for k, m in methods.items()},
    }
    title = "one feed, five ways"
    return str(save_bar_charts(RESULTS_DIR / CHART, title, panels, ylabel=""))


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    console.print(methods_table(m["side_by_side"]))
    console.print(memory_table(m["memory"]))
    console.print(failover_table(m["failover"]))
    for claim, held in m["checks"].items():
        console.print(f"{claim}: {verdict(held)}")
    console.print(TRADE_OFFS)
    console.print(f"chart: {save_chart(m['side_by_side'])}")
