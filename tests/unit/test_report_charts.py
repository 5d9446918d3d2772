"""The reports' charts: every lesson has one, and each new one draws from a small result."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from scenarios import lessons
from scenarios.charts import save_phases
from scenarios.reports import charts
from tests.unit import report_samples

PNG = b"\x89PNG\r\n\x1a\n"

NEW_CHARTS = {
    "request-response": report_samples.REQUEST_RESPONSE,
    "grpc": report_samples.GRPC,
    "tls-termination": report_samples.TLS_TERMINATION,
    "pubsub-rabbitmq": report_samples.PUBSUB_RABBITMQ,
    "pubsub-kafka": report_samples.PUBSUB_KAFKA,
    "pubsub-compare": report_samples.PUBSUB_COMPARE,
    "sidecar": report_samples.SIDECAR,
    "webrtc": report_samples.WEBRTC,
}


def test_every_lesson_has_a_chart_in_its_report() -> None:
    assert set(charts.CHARTS) == set(lessons.discover())


@pytest.mark.parametrize("lesson", sorted(NEW_CHARTS))
def test_a_new_chart_draws_from_a_small_result(lesson: str, tmp_path: Path) -> None:
    drawn = charts.draw(lesson, NEW_CHARTS[lesson], tmp_path)
    assert drawn, f"{lesson} drew nothing"
    for path in drawn:
        assert path.parent == tmp_path
        assert path.read_bytes().startswith(PNG)


def test_a_lessons_own_chart_is_copied_beside_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The module, not the package's render() function of the same name: imports the lesson.
    render = importlib.import_module("scenarios.polling_and_push.render")
    monkeypatch.setattr(render, "RESULTS_DIR", tmp_path / "results")
    side: dict[str, Any] = {"methods": {
        name: {"delay_ms": {"p99": 10.0}, "requests": 5, "empty_answers": 1,
               "bytes_at_proxy": 4096} for name in ("short polling", "SSE")}}  # fmt: skip
    drawn = charts.draw("polling-and-push", {"side_by_side": side}, tmp_path / "report")
    assert [p.name for p in drawn] == [render.CHART]
    assert drawn[0].parent == tmp_path / "report" and drawn[0].read_bytes().startswith(PNG)


def test_a_timeline_of_phases_marks_what_was_done(tmp_path: Path) -> None:
    path = save_phases(
        tmp_path / "phases.png", "a broker killed", [("stream", 0, 10), ("down", 2, 5)],
        {"SIGKILL": 2.0, "healthy": 5.0},
    )  # fmt: skip
    assert path.read_bytes().startswith(PNG)


def test_a_result_without_what_the_chart_reads_is_a_key_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        charts.draw("sidecar", {"checks": {}}, tmp_path)
