"""The HTML reports and the index, from results as `--json` prints them (no Docker)."""

from __future__ import annotations

import copy
import json
import re
import socket
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from comms_sandbox import config
from scenarios import __main__ as cli
from scenarios import lessons, reports
from scenarios import result as result_module
from scenarios.reports import __main__ as make_report
from scenarios.reports import evidence, markup, run_page, uis
from scenarios.result import SHARED_RESULTS, NotShown, ScenarioResult, outcome, run_once
from tests.unit import report_samples


class Verdicts(HTMLParser):
    """Every element's data-check / data-outcome, data-lesson / data-verdict, and <img>."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.checks: dict[str, str] = {}
        self.lessons: dict[str, str] = {}
        self.images: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "data-check" in found:
            self.checks[found["data-check"] or ""] = found["data-outcome"] or ""
        if "data-lesson" in found:
            self.lessons[found["data-lesson"] or ""] = found["data-verdict"] or ""
        if tag == "img":
            self.images.append(found.get("src") or "")


@pytest.fixture(autouse=True)
def no_ui_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The UIs as not running: what the machine has open does not change a page."""
    monkeypatch.setattr(uis, "status", lambda: [(ui, False) for ui in uis.known()])


def mixed() -> dict[str, Any]:
    """request-response's sample with a check that fails, one not shown, and markup in a name."""
    metrics = copy.deepcopy(report_samples.REQUEST_RESPONSE)
    metrics["checks"] |= {"<b>p99</b> under 10 ms": False,
                          "two cores beat one": NotShown("the machine was busy")}  # fmt: skip
    return report_samples.result("request-response", metrics, ok=False)


def test_every_check_of_the_json_is_in_the_report_with_its_outcome(tmp_path: Path) -> None:
    data = mixed()
    report = reports.record("request-response", data, started=0.0, root=tmp_path)
    shown = Verdicts(report.read_text()).checks
    assert shown == {check: outcome(v) for check, v in data["metrics"]["checks"].items()}
    assert set(shown.values()) == {"holds", "fails", "not shown"}


def test_result_json_is_what_json_prints_and_the_report_sits_beside_it(tmp_path: Path) -> None:
    data = mixed()
    reports.record("request-response", data, started=0.0, root=tmp_path)
    folder = tmp_path / "request-response"
    assert (folder / "result.json").read_text() == json.dumps(data, indent=2) + "\n"
    run = json.loads((folder / "run.json").read_text())
    assert run["started"] == "1970-01-01T00:00:00+00:00" and run["cores"] >= 1
    assert sorted(p.name for p in folder.iterdir()) == [
        "report.html", "request-response.png", "result.json", "run.json"]  # fmt: skip


def test_the_report_needs_no_network(tmp_path: Path) -> None:
    report = reports.record("request-response", mixed(), started=0.0, root=tmp_path)
    html = report.read_text()
    images = Verdicts(html).images
    assert images and all(src.startswith("data:image/png;base64,") for src in images)
    assert "<link" not in html and "<script" not in html
    assert "&lt;b&gt;p99&lt;/b&gt;" in html  # a check's name is text, never markup


def test_the_report_links_the_lessons_page_and_says_when_a_ui_is_not_running(
    tmp_path: Path,
) -> None:
    html = reports.record("request-response", mixed(), started=0.0, root=tmp_path).read_text()
    assert "href='../index.html'" in html
    folder = tmp_path / "request-response"
    pages = [h for h in re.findall(r"href='([^']+)'", html) if h.endswith("README.md")]
    assert [(folder / h).resolve() for h in pages] == [lessons.get("request-response").page]
    assert "Zipkin (http://127.0.0.1:" in html and "not running" in html


def test_a_chart_that_cannot_be_drawn_is_said_not_hidden(tmp_path: Path) -> None:
    metrics = {"checks": {"the adapter counted every request the app got": True}}
    data = report_samples.result("sidecar", metrics)
    html = reports.record("sidecar", data, started=0.0, root=tmp_path).read_text()
    assert "chart not drawn: KeyError" in html


def test_the_index_lists_every_lesson_with_its_last_verdict(tmp_path: Path) -> None:
    reports.record("request-response", mixed(), started=0.0, root=tmp_path)
    grpc = report_samples.result("grpc", report_samples.GRPC)
    reports.record("grpc", grpc, started=0.0, root=tmp_path)
    page = (tmp_path / reports.INDEX).read_text()
    verdicts = Verdicts(page).lessons
    assert verdicts["request-response"] == "fails" and verdicts["grpc"] == "holds"
    assert verdicts["clusters"] == "never run"
    assert "href='grpc/report.html'" in page


def test_make_report_rebuilds_the_index_and_prints_where_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(config, "RESULTS_DIR", tmp_path)
    folder = tmp_path / "grpc"
    folder.mkdir()
    (folder / "result.json").write_text(
        json.dumps(report_samples.result("grpc", report_samples.GRPC))
    )
    assert make_report.main(["--all"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"report: {(folder / 'report.html').as_uri()}",
                       f"index: {(tmp_path / 'index.html').as_uri()}"]  # fmt: skip
    assert "(no run.json)" in (folder / "report.html").read_text()


@pytest.mark.parametrize(
    ("checks", "ok", "said"),
    [({"a": True, "b": NotShown("busy")}, True, "holds"),
     ({"a": True, "b": False}, False, "fails"),
     ({"b": NotShown("busy")}, False, "not shown")],
)  # fmt: skip
def test_a_runs_verdict(checks: dict[str, Any], ok: bool, said: str) -> None:
    assert run_page.run_outcome({"ok": ok, "metrics": {"checks": checks}}) == said


def test_a_ui_answers_when_its_port_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert uis.UI("x", "http://x", port, "").answers()
    assert not uis.UI("x", "http://x", port, "").answers()


METRICS = {
    "methods": {"round-robin": {"per_replica": {"a": 5, "b": 5}, "holds": True}},
    "draining": {"calls": 10, "logged_by_nginx": 10, "holds": {"x": True}},
    "kinds": {"server_streaming": [1, 2, 3], "deadline": "DEADLINE_EXCEEDED"},
    "requests": 30,
    "errors": 0,
}


@pytest.mark.parametrize(
    ("check", "rows"),
    [("methods: round-robin", {"methods / round-robin / per_replica / a": "5",
                               "methods / round-robin / per_replica / b": "5"}),
     ("draining: x", {"draining / calls": "10", "draining / logged_by_nginx": "10"}),
     ("a short deadline ends in DEADLINE_EXCEEDED", {"kinds / deadline": "DEADLINE_EXCEEDED"}),
     ("server streaming: ticks 1 to 3", {"kinds / server_streaming": "[1, 2, 3]"}),
     ("every request answered 200", {"requests": "30", "errors": "0"})],
)  # fmt: skip
def test_a_checks_evidence_is_found_by_its_name(check: str, rows: dict[str, str]) -> None:
    found = evidence.evidence(METRICS, check)
    assert {row.what: row.value for row in found.rows} == rows


def test_evidence_says_where_a_number_was_measured_when_its_key_does() -> None:
    rows = evidence.evidence(METRICS, "draining: x").rows
    assert {row.what: row.where for row in rows} == {
        "draining / calls": "", "draining / logged_by_nginx": "nginx's log"}  # fmt: skip


def test_like_dicts_become_one_table_with_nested_values_as_columns() -> None:
    html = markup.metrics_html({"ways": report_samples.GRPC["rest_vs_grpc"]})
    assert html.count("<table") == 1
    assert "<th>latency_ms / p50</th>" in html and "<td>gRPC, HTTP/2</td>" in html


def test_a_long_table_is_cut_and_says_so() -> None:
    html = markup.table([{"n": n} for n in range(markup.MAX_TABLE_ROWS + 5)])
    assert html.count("<tr>") == markup.MAX_TABLE_ROWS + 1  # and the head
    assert f"of {markup.MAX_TABLE_ROWS + 5} rows" in html


def test_a_docstring_becomes_paragraphs_and_lists() -> None:
    html = run_page.docstring_html(
        "The idea\nin two lines.\n\nWhat to look at:\n- one,\n  continued;\n- two.\n"
    )
    assert html == ("<p>The idea in two lines.</p><p>What to look at:</p>"
                    "<ul><li>one, continued;</li><li>two.</li></ul>")  # fmt: skip


def test_a_run_prints_json_that_equals_the_result_json_its_report_is_made_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = mixed()
    module = lessons.get("request-response").module
    monkeypatch.setattr(module, "run", lambda: ScenarioResult(**copy.deepcopy(data)))
    monkeypatch.setattr(config, "RESULTS_DIR", tmp_path)
    monkeypatch.delenv(SHARED_RESULTS, raising=False)
    ran = CliRunner().invoke(cli.app, ["run", "request-response", "--json", "--quiet"])
    assert ran.exit_code == 1  # a check failed
    folder = tmp_path / "request-response"
    assert ran.stdout == (folder / "result.json").read_text()
    assert ran.stderr == f"report: {(folder / 'report.html').as_uri()}\n"
    assert Verdicts((folder / "report.html").read_text()).checks == {
        check: outcome(value)
        for check, value in json.loads(ran.stdout)["metrics"]["checks"].items()
    }


def test_a_page_run_that_reuses_the_sessions_result_reports_the_runs_own_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a test session the page's `scenarios run` reuses the tests' run: its run.json
    must time that run (seconds), not the page command's instant reuse of it."""
    data = mixed()
    module = lessons.get("request-response").module
    monkeypatch.setattr(module, "run", lambda: ScenarioResult(**copy.deepcopy(data)))
    monkeypatch.setattr(config, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setenv(SHARED_RESULTS, str(tmp_path))
    clock = iter([1000.0, 1042.5])  # the tests' run: started, finished
    monkeypatch.setattr(result_module.time, "time", lambda: next(clock))
    run_once("request-response", module.run)
    monkeypatch.setattr(result_module.time, "time", lambda: 5000.0)  # the page, much later
    CliRunner().invoke(cli.app, ["run", "request-response", "--json", "--quiet"])
    run = json.loads((tmp_path / "results" / "request-response" / "run.json").read_text())
    assert run["duration_s"] == 42.5
    assert run["started"] == "1970-01-01T00:16:40+00:00"
