"""results/index.html: every lesson with its last run's time, verdict and report."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from scenarios import lessons
from scenarios.reports import benchmarks, markup
from scenarios.reports.run_facts import shown_time
from scenarios.reports.run_page import counts, run_outcome
from scenarios.reports.uis import UI


def html(root: Path, uis: list[tuple[UI, bool]]) -> str:
    rows = "".join(row(lesson, root / lesson.name) for lesson in lessons.discover().values())
    columns = ("lesson", "what it shows", "last run", "took", "verdict", "checks")
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = [
        "<h1>comms-sandbox: the lessons' last runs</h1>",
        "<p class='lead'>Each row is the last <code>python -m scenarios run NAME</code> of a "
        "lesson on this machine; its name opens that run's report.</p>",
        f"<table class='index'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>",
        benchmarks.section(root),  # results/bench-*.json, from `make bench`
        "<h2>See more</h2><ul class='uis'>",
        *(f"<li>{markup.link(ui.url, ui.name)}: {escape(ui.shows)}</li>" if up else
          f"<li class='down'>{escape(ui.name)} ({escape(ui.url)}): not running</li>"
          for ui, up in uis),
        "</ul><p class='note'><code>make report</code> rebuilds this page from "
        "results/*/result.json and results/bench-*.json.</p>",
    ]  # fmt: skip
    return markup.page("comms-sandbox: last runs", "\n".join(body))


def row(lesson: lessons.Lesson, folder: Path) -> str:
    data, run = read(folder / "result.json"), read(folder / "run.json")
    if data is None:
        cells = [escape(lesson.name), escape(lesson.summary), "", "", markup.badge("never run"), ""]
        verdict = "never run"
    else:
        verdict = run_outcome(data)
        report = folder / "report.html"
        name = (markup.link(f"{lesson.name}/report.html", lesson.name) if report.exists()
                else escape(lesson.name))  # fmt: skip
        when = shown_time(run["started"]) if run else "not recorded"
        took = f"{run['duration_s']} s" if run else ""
        cells = [name, escape(lesson.summary), escape(when), escape(took), markup.badge(verdict),
                 escape(counts(data))]  # fmt: skip
    tds = "".join(f"<td>{c}</td>" for c in cells)
    return f"<tr data-lesson='{escape(lesson.name)}' data-verdict='{verdict}'>{tds}</tr>"


def read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None
