"""The index's "Benchmarks" section: each results/bench-NAME.json (`make bench`), when it
ran, the targets it met and missed, and a link to the JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from scenarios.reports import markup
from scenarios.reports.run_facts import shown_time

PATTERN = "bench-*.json"


def section(root: Path) -> str:
    """The section's HTML: a table of the benchmarks' last results, or how to get some."""
    found = sorted(root.glob(PATTERN))
    intro = ("<h2 id='benchmarks'>Benchmarks</h2><p class='lead'>The last "
             "<code>python -m bench</code> (<code>make bench</code>) of each benchmark on this "
             "machine: speed and memory, as ratios measured side by side.</p>")  # fmt: skip
    if not found:
        return intro + "<p class='note'>No benchmark has run here yet.</p>"
    columns = ("benchmark", "finished", "targets", "verdicts")
    head = "".join(f"<th>{c}</th>" for c in columns)
    rows = "".join(row(path) for path in found)
    return f"{intro}<table class='index benchmarks'><thead><tr>{head}</tr></thead>" \
           f"<tbody>{rows}</tbody></table>"  # fmt: skip


def row(path: Path) -> str:
    """One benchmark: its JSON linked, its time, and its targets' verdicts."""
    name = path.stem.removeprefix("bench-")
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as exc:  # a half-written or hand-edited file: say so, go on
        data = {"verdicts": [{"check": "readable JSON", "outcome": "fails", "why": str(exc)}]}
    verdicts = data.get("verdicts") or []
    cells = [markup.link(path.name, name), escape(finished(data, path)),
             summary(verdicts), details(verdicts)]  # fmt: skip
    tds = "".join(f"<td>{c}</td>" for c in cells)
    return f"<tr data-benchmark='{escape(name)}' data-verdict='{overall(verdicts)}'>{tds}</tr>"


def finished(data: dict[str, Any], path: Path) -> str:
    """When it finished: as the JSON says (`finished`), else the file's time."""
    if isinstance(data.get("finished"), str):
        return shown_time(data["finished"])
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
    return shown_time(written)


def overall(verdicts: list[dict[str, str]]) -> str:
    """holds when every target was met, fails when one was not; none when it has no targets."""
    if not verdicts:
        return "no targets"
    return "fails" if any(v.get("outcome") != "holds" for v in verdicts) else "holds"


def summary(verdicts: list[dict[str, str]]) -> str:
    if not verdicts:
        return "<span class='muted'>none recorded</span>"
    met = sum(v.get("outcome") == "holds" for v in verdicts)
    return f"{markup.badge(overall(verdicts))} {met} of {len(verdicts)} met"


def details(verdicts: list[dict[str, str]]) -> str:
    items = "".join(
        f"<li>{markup.badge(v.get('outcome', 'fails'))} {escape(v.get('check', ''))}"
        + (f" <span class='muted'>({escape(v['why'])})</span>" if v.get("why") else "")
        + "</li>"
        for v in verdicts
    )
    return f"<ul class='bench-verdicts'>{items}</ul>" if items else ""
