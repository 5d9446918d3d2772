"""HTML reports of the lessons' runs: results/<lesson>/report.html and results/index.html.

After every `python -m scenarios run NAME`, results/<lesson>/ gets:
- result.json: exactly what `--json` prints (ScenarioResult.to_json());
- run.json: when the run started and ended, and the machine (host, cores, load);
- the charts, drawn from result.json's metrics (scenarios/reports/charts.py);
- report.html: made from those alone, so it cannot disagree with `--json`;
  one file, styles and charts inline, that opens with no network.
results/index.html lists every lesson's last run; `make report` rebuilds it
(and, with ALL=1, every report) from the result.json files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from comms_sandbox import config
from scenarios import lessons
from scenarios.reports import charts, index, run_page, uis
from scenarios.reports.run_facts import facts

INDEX = "index.html"


def results_root() -> Path:
    """Read when called: SANDBOX_RESULTS moves it (comms_sandbox.config)."""
    return config.RESULTS_DIR


def record(name: str, data: dict[str, Any], started: float, root: Path | None = None,
           finished: float | None = None) -> Path:  # fmt: skip
    """Keep a run (result.json, run.json), write its report and the index; the report's path.

    `finished` defaults to now."""
    folder = (root or results_root()) / name
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "result.json", json.dumps(data, indent=2) + "\n")
    write_text(folder / "run.json", json.dumps(facts(started, finished), indent=2) + "\n")
    report = write_report(name, root)
    write_index(root)
    return report


def write_report(name: str, root: Path | None = None) -> Path:
    """results/<name>/report.html from results/<name>/result.json (and run.json, if kept)."""
    folder = (root or results_root()) / name
    data = json.loads((folder / "result.json").read_text())
    run = index.read(folder / "run.json")
    for old in folder.glob("*.png"):  # a chart this run does not draw is not this run's
        old.unlink()
    drawn, errors = draw_charts(name, data["metrics"], folder)
    lesson = lessons.get(name)
    page = Path(os.path.relpath(lesson.page, folder)).as_posix()
    html = run_page.html(lesson, data, run=run, charts=drawn, chart_errors=errors,
                         uis=uis.status(), page_link=page)  # fmt: skip
    return write_text(folder / "report.html", html)


def draw_charts(name: str, metrics: dict[str, Any], folder: Path) -> tuple[list[Path], list[str]]:
    """The lesson's charts, or why not: a run with a part left out lacks what a chart reads,
    and the report says so instead of failing the run it reports."""
    try:
        return charts.draw(name, metrics, folder), []
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        return [], [f"{type(exc).__name__}: {exc}"]


def write_index(root: Path | None = None) -> Path:
    root = root or results_root()
    return write_text(root / INDEX, index.html(root, uis.status()))


def write_text(path: Path, text: str) -> Path:
    """Written whole, then renamed into place: a page open in a browser, or another lesson's
    run rebuilding the index at the same time, never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    partial.replace(path)
    return path
