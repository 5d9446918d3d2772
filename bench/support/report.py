"""Tables the benchmark reports share."""

from rich.table import Table


def right_aligned(title: str, *columns: str) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    return table
