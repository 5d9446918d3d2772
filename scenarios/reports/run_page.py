"""One run's report as HTML, made from its result JSON alone (and the charts drawn from it).

The verdicts are read from the JSON's metrics["checks"] with
scenarios.result.outcome, as the terminal report reads them: the page and
`--json` cannot disagree. Each verdict row carries data-check and data-outcome,
which the tests read back.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Any

from scenarios.reports import markup
from scenarios.reports.evidence import Evidence, evidence
from scenarios.reports.run_facts import shown_time
from scenarios.reports.uis import UI
from scenarios.result import outcome


def run_outcome(data: dict[str, Any]) -> str:
    """The run's verdict: holds (ok), fails (a check failed), or not shown (none judged)."""
    if data["ok"]:
        return "holds"
    checks = data["metrics"].get("checks") or {}
    return "fails" if any(outcome(c) == "fails" for c in checks.values()) else "not shown"


def counts(data: dict[str, Any]) -> str:
    """How many checks came out which way: "12 hold, 1 not shown"."""
    tally: dict[str, int] = {}
    for check in (data["metrics"].get("checks") or {}).values():
        tally[outcome(check)] = tally.get(outcome(check), 0) + 1
    words = {"holds": "hold", "fails": "fail", "not shown": "not shown"}
    return ", ".join(f"{n} {words[o]}" for o, n in tally.items())


def html(lesson: Any, data: dict[str, Any], *, run: dict[str, Any] | None, charts: list[Path],
         chart_errors: list[str], uis: list[tuple[UI, bool]], page_link: str) -> str:  # fmt: skip
    """The report: the idea, the run, the verdicts with their evidence, charts, UIs, tables."""
    verdict = run_outcome(data)
    body = [
        "<nav class='top'><a href='../index.html'>← every lesson's last run</a></nav>",
        f"<h1>{escape(lesson.name)} {markup.badge(verdict)}</h1>",
        f"<p class='lead'>{escape(lesson.summary)}</p>",
        idea_section(lesson, page_link),
        facts_section(run, data),
        verdicts_section(data),
        charts_section(charts, chart_errors),
        uis_section(uis),
        tables_section(data),
        "<p class='note'>Made from result.json, the object "
        f"<code>python -m scenarios run {escape(lesson.name)} --json</code> printed.</p>",
    ]
    return markup.page(f"{lesson.name}: {verdict}", "\n".join(body))


def idea_section(lesson: Any, page_link: str) -> str:
    doc = (lesson.module.__doc__ or "").strip().split("\n", 1)
    idea = docstring_html(doc[1]) if len(doc) > 1 else ""
    page = markup.link(page_link, f"the lesson's page ({lesson.page.parent.name}/README.md)")
    return f"<h2>The idea</h2><div class='idea'>{idea}<p>More on {page}.</p></div>"


def docstring_html(text: str) -> str:
    """A lesson's docstring as paragraphs and lists ("- " items, indented continuations)."""
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(f"<p>{escape(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            blocks.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif stripped.startswith("- "):
            if paragraph:
                flush()
            items.append(stripped[2:])
        elif items and line.startswith(" "):
            items[-1] += " " + stripped
        else:
            if items:
                flush()
            paragraph.append(stripped)
    flush()
    return "".join(blocks)


def facts_section(run: dict[str, Any] | None, data: dict[str, Any]) -> str:
    if run is None:
        return "<p class='note'>When and where it ran was not recorded (no run.json).</p>"
    load = ", ".join(str(x) for x in run["load_average"])
    facts = {
        "started": shown_time(run["started"]),
        "took": f"{run['duration_s']} s",
        "machine": run["hostname"],
        "cores": run["cores"],
        "load average (1, 5, 15 min) at the end": load,
        "checks": counts(data),
    }
    cells = "".join(f"<div><b>{escape(k)}</b>{escape(str(v))}</div>" for k, v in facts.items())
    return f"<div class='facts'>{cells}</div>"


def verdicts_section(data: dict[str, Any]) -> str:
    metrics = data["metrics"]
    rows = []
    for check, value in (metrics.get("checks") or {}).items():
        said = outcome(value)
        why = (
            f"<div class='reason'>not shown: {escape(str(value))}</div>"
            if said == "not shown"
            else ""
        )
        found = evidence_html(evidence(metrics, check))
        rows.append(
            f"<tr class='{said.replace(' ', '-')}' data-check='{escape(check, quote=True)}' "
            f"data-outcome='{said}'><td class='check'>{escape(check)}</td>"
            f"<td>{markup.badge(said)}</td><td>{why}{found}</td></tr>"
        )
    head = "<tr><th>check</th><th>verdict</th><th>decided on (the run's numbers)</th></tr>"
    return (
        "<h2>Verdicts</h2><table class='verdicts'>"
        f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def evidence_html(found: Evidence) -> str:
    if not found.rows:
        return "<span class='muted'>see the tables below</span>"
    rows = "".join(
        f"<tr><th>{escape(r.what)}</th><td>{markup.cell(r.value)}</td>"
        f"<td class='muted'>{escape(r.where)}</td></tr>"
        for r in found.rows
    )
    more = f"<p class='note'>and {found.more} more in the tables below</p>" if found.more else ""
    return f"<table class='evidence'><tbody>{rows}</tbody></table>{more}"


def charts_section(charts: list[Path], errors: list[str]) -> str:
    """Each chart inline (base64): the page is one file that opens anywhere; the PNGs
    are beside it too."""
    figures = [
        f"<figure><img alt='{escape(path.stem)}' src='data:image/png;base64,"
        f"{base64.b64encode(path.read_bytes()).decode()}'>"
        f"<figcaption>{escape(path.name)}</figcaption></figure>"
        for path in charts
    ]
    failed = [f"<p class='reason'>chart not drawn: {escape(error)}</p>" for error in errors]
    return "<h2>Charts</h2>" + "".join(figures + failed)


def uis_section(uis: list[tuple[UI, bool]]) -> str:
    items = [
        f"<li>{markup.link(ui.url, ui.name)}: {escape(ui.shows)}</li>"
        if up
        else f"<li class='down'>{escape(ui.name)} ({escape(ui.url)}): not running</li>"
        for ui, up in uis
    ]
    return (
        "<h2>See more</h2><p class='note'>The sandbox's UIs, as they were when this report was "
        f"written:</p><ul class='uis'>{''.join(items)}</ul>"
    )


def tables_section(data: dict[str, Any]) -> str:
    metrics = {k: v for k, v in data["metrics"].items() if k != "checks"}
    parts = ["<h2>What the run measured</h2>", markup.metrics_html(metrics)]
    if data.get("evidence"):
        parts += ["<h2>Samples</h2>", markup.metrics_html(data["evidence"])]
    return "".join(parts)
