"""HTML pieces the report and the index share: escaping, the page, verdict badges, and a
generic rendering of a result's metrics (nested dicts as sections, records as tables)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from scenarios.reports.evidence import is_scalar

STYLE = Path(__file__).with_name("style.css")
MAX_TABLE_ROWS = 200  # a cluster's samples run into the thousands: the JSON has them all
MAX_LIST_ITEMS = 40
MAX_CELL = 240  # characters of a nested value shown in a cell
OPEN_DEPTH = 2  # sections less deep than this start open


def page(title: str, body: str) -> str:
    """A whole page, its styles inline: it opens from disk, with no network."""
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{STYLE.read_text()}</style></head>\n"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )


def badge(outcome: str) -> str:
    """holds / fails / not shown / never run, coloured by its class."""
    return f"<span class='badge {outcome.replace(' ', '-')}'>{escape(outcome)}</span>"


def link(href: str, text: str) -> str:
    return f"<a href='{escape(href, quote=True)}'>{escape(text)}</a>"


def cell(value: Any) -> str:
    """A value in a table cell: scalars as they are, URLs as links, nested ones as JSON."""
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return link(value, value)
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) > MAX_CELL:
        text = text[:MAX_CELL] + " …"
    return escape(text)


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(row.get(c, ''))}</td>" for c in columns) + "</tr>"
        for row in rows[:MAX_TABLE_ROWS]
    )
    note = ""
    if len(rows) > MAX_TABLE_ROWS:
        note = (f"<p class='note'>the first {MAX_TABLE_ROWS} of {len(rows)} rows; "
                "result.json has them all</p>")  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def key_values(values: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{cell(v)}</td></tr>" for k, v in values.items()
    )
    return f"<table class='kv'><tbody>{rows}</tbody></table>"


def metrics_html(value: Any, depth: int = 0) -> str:
    """Any JSON value as HTML: a dict's scalars in one table, its records as a table,
    each nested part as a section of its own."""
    if isinstance(value, dict):
        return dict_html(value, depth)
    if isinstance(value, list):
        return list_html(value, depth)
    return f"<p>{cell(value)}</p>"


def dict_html(value: dict[str, Any], depth: int) -> str:
    scalars = {k: v for k, v in value.items() if is_scalar(v) or is_scalar_list(v)}
    parts = [key_values({k: joined(v) for k, v in scalars.items()})] if scalars else []
    for key, child in value.items():
        if key == "holds" and isinstance(child, dict):
            continue  # a part's checks: the verdicts above show them
        if key not in scalars:
            parts.append(section(str(key), metrics_html(as_records(child), depth + 1), depth))
    return "".join(parts)


def list_html(value: list[Any], depth: int) -> str:
    if value and all(isinstance(v, dict) for v in value):
        return table(value)
    if all(is_scalar(v) for v in value):
        return f"<p>{cell(joined(value))}</p>"
    return "".join(metrics_html(v, depth) for v in value)


def as_records(value: Any) -> Any:
    """A dict of like dicts ({"termination": {...}, "passthrough": {...}}) as one table's
    rows, each named by its key, a nested dict's values as columns of their own
    ("latency_ms / p50"); anything else as it is."""
    if isinstance(value, dict) and len(value) > 1 and all(map(is_row, value.values())):
        return [{"": key, **flattened(row)} for key, row in value.items()]
    return value


def is_row(value: Any) -> bool:
    """A dict of scalars, lists of scalars, and dicts of scalars: one table row."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(is_scalar(v) or is_scalar_list(v) or is_flat(v) for v in value.values())
    )


def is_flat(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(is_scalar(v) for v in value.values())


def flattened(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out |= {f"{key} / {k}": v for k, v in value.items()}
        else:
            out[key] = joined(value)
    return out


def is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(is_scalar(v) for v in value)


def joined(value: Any) -> Any:
    """A list of scalars as one line (the first MAX_LIST_ITEMS), anything else as it is."""
    if not is_scalar_list(value):
        return value
    text = ", ".join(str(v) for v in value[:MAX_LIST_ITEMS])
    more = len(value) - MAX_LIST_ITEMS
    return text + (f" … and {more} more" if more > 0 else "") if value else "(none)"


def section(title: str, body: str, depth: int) -> str:
    opened = " open" if depth < OPEN_DEPTH else ""
    return (
        f"<details class='depth-{min(depth, 3)}'{opened}><summary>{escape(title)}</summary>"
        f"{body}</details>"
    )
