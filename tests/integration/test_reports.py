"""The reports, tested like a page: two real runs, their reports and the index, in chromium.

The runs are the session's (run_once: the lessons' own modules and pages share
them); the reports are built into a folder of this module's, opened from disk
as a learner opens them, and checked against the JSON they were made from. The
screenshots go to results/screenshots/, for a person (or a CI artifact) to see.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from testcontainers.compose import DockerCompose

from comms_sandbox import config
from scenarios import lessons, reports
from scenarios.reports.run_page import run_outcome
from scenarios.result import outcome, run_once, shared_run_times
from tests.integration.browser import goto

# Cheap, and on the default stack alone: no lesson's own services to start. Neither
# kills, stops or reloads anything (the grpc lesson reloads nginx), so this module
# shares the stack with the other test lane (tests/lanes.py), in the lane of both.
LESSONS = ("request-response", "tls-termination")
VIEWPORT = {"width": 1200, "height": 900}

ROWS = "rows => rows.map(r => [r.dataset.lesson, r.querySelector('.badge').textContent])"
VERDICTS = "rows => rows.map(r => [r.dataset.check, r.querySelector('.badge').textContent])"
IMAGES = "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"


def screenshots() -> Path:
    folder = config.RESULTS_DIR / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def runs(stack: DockerCompose) -> dict[str, dict[str, Any]]:
    """Each lesson's real run of this session, as `--json` prints it."""
    return {name: run_once(name, lessons.get(name).module.run).to_json() for name in LESSONS}


@pytest.fixture(scope="module")
def built(runs: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two reports and the index, as `python -m scenarios run` writes them."""
    root = tmp_path_factory.mktemp("results")
    for name, data in runs.items():
        started, finished = shared_run_times(name) or (time.time(), None)
        reports.record(name, data, started, root=root, finished=finished)
    return root


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)
    yield context.new_page()
    context.close()


@pytest.fixture
def asked_for(page: Page) -> list[str]:
    """Every address the page asks for: a report needs no network."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def test_the_index_shows_every_lesson_and_each_runs_verdict(
    built: Path, runs: dict[str, dict[str, Any]], page: Page
) -> None:
    goto(page, (built / reports.INDEX).as_uri())
    shown = dict(page.eval_on_selector_all("tr[data-lesson]", ROWS))
    page.screenshot(path=screenshots() / "index.png", full_page=True)
    assert list(shown) == list(lessons.discover())
    assert {name: shown[name] for name in LESSONS} == {n: run_outcome(d) for n, d in runs.items()}
    assert {verdict for name, verdict in shown.items() if name not in LESSONS} == {"never run"}


@pytest.mark.parametrize("name", LESSONS)
def test_a_report_shows_the_jsons_verdicts_and_every_chart_loads(
    name: str, built: Path, runs: dict[str, dict[str, Any]], page: Page, asked_for: list[str]
) -> None:
    goto(page, (built / reports.INDEX).as_uri())
    page.click(f"a[href='{name}/report.html']")  # the index's link leads to the report
    page.wait_for_load_state("load")
    assert page.url == (built / name / "report.html").as_uri()
    shown = dict(page.eval_on_selector_all("tr[data-check]", VERDICTS))
    widths = page.eval_on_selector_all("img", IMAGES)
    page.screenshot(path=screenshots() / f"{name}.png", full_page=True)
    checks = runs[name]["metrics"]["checks"]
    assert shown == {check: outcome(value) for check, value in checks.items()}
    assert widths and all(width > 0 for width in widths), widths
    assert page.locator("h1 .badge").text_content() == run_outcome(runs[name])
    assert [url for url in asked_for if not url.startswith(("file:", "data:"))] == []
