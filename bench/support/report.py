"""Tables the benchmark reports share."""

from rich.table import Table


def right_aligned(title: str, *columns: str) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    return table


def rates_with_ratio(title: str, first: str, rows: dict[str, dict[str, float]],
                     ratio: tuple[str, float]) -> Table:  # fmt: skip
    """Requests/s and p99 per row ({"per_s", "p99_ms"}), then a row with their ratio."""
    table = right_aligned(title, first, "requests/s", "p99 (ms)")
    for name, row in rows.items():
        table.add_row(name, str(row["per_s"]), str(row["p99_ms"]))
    table.add_row(ratio[0], str(ratio[1]), "")
    return table
