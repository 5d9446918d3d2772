"""The observability report: the span tree, the log lines, the metrics, the verdicts, the links."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from comms_sandbox.config import RESULTS_DIR
from scenarios.charts import save_timeline
from scenarios.report import records_table, verdict
from scenarios.result import ScenarioResult

CHART = "observability-trace.png"


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    console.print(
        f"Order {m['order']['body'].get('order_id', '?')}: HTTP {m['order']['status']}, "
        f"request id [bold]{m['request_id']}[/], trace [bold]{m['trace_id'] or 'not found'}[/]"
    )
    console.print(span_tree(m["tree"]))
    console.print(f"crossed: {' -> '.join(m['crossed'])}")
    for problem in m["trace_problems"]:
        console.print(f"[red]trace: {problem}[/]")
    console.print(log_table(m["logs"]))
    for name in m["missing_logs"]:
        console.print(f"[red]no log line from {name} with the request id[/]")
    console.print(records_table(
        "Counters Prometheus scraped, before and after the order",
        [{**row, "holds": verdict(row["holds"])} for row in m["counters"]],
        ("what", "before", "after", "moved", "expected", "holds"),
    ))  # fmt: skip
    for target in m["targets_down"]:
        console.print(f"[red]Prometheus target down: {escape(target)}[/]")
    for check, holds in m["checks"].items():
        console.print(f"{check}: {verdict(holds)}")
    if m["tree"]:
        console.print(f"timeline chart: {timeline_chart(m['tree'], m['trace_id'])}")
    console.print(f"trace in Zipkin: {m['links']['trace']}")
    console.print(f"targets in Prometheus: {m['links']['metrics']}")


def span_tree(rows: list[dict[str, Any]]) -> Tree:
    """The trace as a tree: service, span, kind, broker, start offset and duration."""
    tree = Tree("[bold]trace[/] (start offset, duration)")
    parents: list[Tree] = [tree]
    for row in rows:
        broker = f" [magenta]-> {row['broker']}[/]" if row["broker"] else ""
        label = (
            f"[cyan]{row['service']}[/] {escape(row['span'])} [dim]{row['kind']}[/]{broker} "
            f"+{row['start_ms']:.1f} ms, {row['duration_ms']:.1f} ms"
        )
        del parents[row["depth"] + 1 :]
        parents.append(parents[row["depth"]].add(label))
    return tree


def log_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Log lines with the request id, from every service")
    for column in ("service", "message", "trace id", "detail"):
        table.add_column(column, overflow="fold")
    for row in rows:
        detail = ", ".join(f"{k}={v}" for k, v in row["detail"].items())
        table.add_row(row["service"], escape(str(row["message"])), row["trace_id"], escape(detail))
    return table


def timeline_chart(rows: list[dict[str, Any]], trace_id: str) -> str:
    bars = [(f"{'  ' * row['depth']}{row['service']}: {row['span'][:48]}", row["start_ms"],
             row["duration_ms"]) for row in rows]  # fmt: skip
    return str(save_timeline(RESULTS_DIR / CHART, f"one order's trace {trace_id}", bars))
