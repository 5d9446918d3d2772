"""The lessons' pages show a real run: scenarios/<package>/figures/ (`make figures`).

`python -m scenarios.reports figures [LESSON...] [--from DIR]` takes each lesson's last
run (results/<lesson>/, or DIR/<lesson>/) and keeps its result.json and run.json in the
lesson's figures/ folder; it draws the lesson's charts there again from that result.json
(the registry of scenarios/reports/charts.py; never copied from the run, never edited by
hand) and writes the page's `## A real run` section, which embeds them. Every committed
figure is thus a function of a committed run: tests/unit/test_figures.py draws each one
again and wants the same bytes.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from scenarios import lessons
from scenarios.lessons import Lesson
from scenarios.reports import charts
from scenarios.reports.run_facts import shown_time

FOLDER = "figures"
KEPT = ("result.json", "run.json")
HEADING = "## A real run"
NOTE = "<!-- made by `make figures` from figures/result.json; a unit test checks it -->"


def folder(lesson: Lesson) -> Path:
    return lesson.folder / FOLDER


def make(lesson: Lesson, run: Path) -> list[Path]:
    """Keep the run in `run` as the lesson's figures, draw its charts, update its page."""
    target = folder(lesson)
    target.mkdir(exist_ok=True)
    for name in KEPT:
        shutil.copyfile(run / name, target / name)
    for old in target.glob("*.png"):  # a chart this run does not draw is not this run's
        old.unlink()
    drawn = redraw(lesson, target)
    lesson.page.write_text(with_section(lesson.page.read_text(), lesson))
    return drawn


def redraw(lesson: Lesson, into: Path) -> list[Path]:
    """The lesson's charts, drawn into `into` from its committed figures/result.json."""
    data = json.loads((folder(lesson) / "result.json").read_text())
    return charts.draw(lesson.name, data["metrics"], into)


def section(lesson: Lesson) -> str:
    """The page's `## A real run` section: each figure, and the run and machine it came from."""
    run = json.loads((folder(lesson) / "run.json").read_text())
    lines = [HEADING, "", NOTE, ""]
    for png in sorted(folder(lesson).glob("*.png")):
        lines += [f"![{png.stem}, drawn from a real run]({FOLDER}/{png.name})", ""]
    lines.append(
        f"*One run of `python -m scenarios run {lesson.name}` on `{run['hostname']}` "
        f"({run['cores']} cores), started {shown_time(run['started'])}: "
        f"[its result]({FOLDER}/result.json), [its machine]({FOLDER}/run.json). "
        "`make figures` draws the charts again from that result; none is edited by hand.*"
    )
    return "\n".join(lines) + "\n"


def section_of(page: str) -> str | None:
    """The `## A real run` section of a page's text, up to the next `## ` heading."""
    section = lessons.page_section(page, HEADING)
    return None if section is None else section.rstrip("\n") + "\n"


def with_section(page: str, lesson: Lesson) -> str:
    """The page with its `## A real run` section made anew; a new one goes before
    `## Files` (or at the end of a page without one)."""
    fresh = section(lesson)
    old = section_of(page)
    if old is not None:
        return page.replace(old, fresh, 1)
    files = page.find(f"\n{lessons.FILES_HEADING}\n")
    if files < 0:
        return page.rstrip("\n") + "\n\n" + fresh
    return page[: files + 1] + fresh + "\n" + page[files + 1 :]


def main(argv: list[str], results: Path) -> int:
    """`figures [LESSON...] [--from DIR]`: every lesson with a run in DIR (results/ by
    default), or the ones named; 1 if a named lesson has no run there."""
    parser = argparse.ArgumentParser(prog="python -m scenarios.reports figures")
    parser.add_argument("lessons", nargs="*", metavar="LESSON")
    parser.add_argument("--from", dest="source", type=Path, default=results,
                        help="one folder per lesson (default: results/)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        chosen = [lessons.get(n) for n in args.lessons] or list(lessons.discover().values())
    except lessons.UnknownLessonError as exc:
        parser.error(str(exc))  # exits 2, with the usage
    missing = 0
    for lesson in chosen:
        run = args.source / lesson.name
        if not all((run / name).is_file() for name in KEPT):
            print(f"figures: {lesson.name}: no run in {run} (result.json, run.json)")
            missing += 1
            continue
        for path in make(lesson, run):
            print(f"figures: {path.relative_to(lessons.SCENARIOS_DIR.parent)}")
    return 1 if missing and args.lessons else 0
