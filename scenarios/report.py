"""Rich tables the scenario printers share: counts with a bar per row, latency percentiles."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from scenarios.result import Check, outcome

BAR_WIDTH = 30


def bar(share: float) -> str:
    return "█" * round(share * BAR_WIDTH)


def counts_table(title: str, label: str, counts: dict[str, int], total: int | None = None) -> Table:
    """One row per key: its count, and a bar and percentage of `total` (default: the sum)."""
    total = total if total is not None else sum(counts.values())
    table = Table(title=title)
    table.add_column(label)
    table.add_column("requests", justify="right")
    table.add_column("share")
    for key, count in counts.items():
        share = count / total if total else 0
        table.add_row(key, str(count), f"{bar(share)} {share:.0%}")
    return table


def latency_table(title: str, rows: dict[str, dict[str, float]]) -> Table:
    """Percentiles (ms) per row label, e.g. {"round-robin": {"p50": 3.1, ...}}."""
    table = Table(title=title)
    table.add_column("")
    columns = list(next(iter(rows.values()), {}))
    for column in columns:
        table.add_column(f"{column} (ms)", justify="right")
    for label, values in rows.items():
        table.add_row(label, *(f"{values[column]:.1f}" for column in columns))
    return table


def records_table(title: str, records: list[dict[str, Any]], columns: tuple[str, ...]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(*(str(record.get(column)) for column in columns))
    return table


def print_checks(checks: dict[str, Check], console: Any) -> None:
    """One line per check: its name and whether it held (the CLI says why one was not shown)."""
    for check, holds in checks.items():
        console.print(f"{check}: {verdict(holds)}")


def verdict(holds: Check) -> str:
    """How a report says whether a property held, did not, or could not be seen."""
    return {
        "holds": "[green]holds[/]",
        "fails": "[red]does NOT hold[/]",
        "not shown": "[yellow]not shown[/]",
    }[outcome(holds)]
