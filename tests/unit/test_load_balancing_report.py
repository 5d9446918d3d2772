"""The load-balancing report renders from a recorded result (no Docker needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from scenarios import load_balancing
from scenarios.load_balancing.methods import deviation
from scenarios.result import ScenarioResult

RECORDED = Path(__file__).parent / "fixtures" / "load_balancing.json"


@pytest.fixture
def recorded() -> ScenarioResult:
    return ScenarioResult(**json.loads(RECORDED.read_text()))


def test_report_shows_each_part(recorded: ScenarioResult) -> None:
    console = Console(record=True, width=1000)
    load_balancing.render(recorded, console)
    text = console.export_text()
    for expected in (
        "round-robin: 300 requests",
        "weighted: 300 requests",
        "contrast",
        "keys seen on 2+ replicas: 0",
        "one keep-alive connection: replicas seen",
        "failed GETs: 0",
        "Once a POST reached a replica",
        "scaled to 4",
    ):
        assert expected in text
    assert "does NOT hold" not in text


def test_chart_is_a_png_with_a_panel_per_split(
    recorded: ScenarioResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load_balancing.config, "RESULTS_DIR", tmp_path)
    path = load_balancing.save_chart(recorded.metrics)
    assert path == tmp_path / "load-balancing.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("counts", "expected", "gap"),
    [
        ({"a": 100, "b": 100, "c": 100}, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, 0.0),
        ({"a": 180, "b": 60, "c": 60}, {"a": 0.6, "b": 0.2, "c": 0.2}, 0.0),
        ({"a": 110, "b": 100, "c": 90}, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, 0.1),
        ({"a": 300}, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, 2.0),
    ],
)
def test_deviation_is_relative_to_each_expected_share(
    counts: dict[str, int], expected: dict[str, float], gap: float
) -> None:
    assert deviation(counts, expected) == pytest.approx(gap)


def test_checks_name_each_method_and_part(recorded: ScenarioResult) -> None:
    methods = recorded.metrics["methods"]
    checks = load_balancing.checks(recorded.metrics)
    assert set(checks) == {f"methods: {m}" for m in methods} | {"layers", "failover", "scaling"}
    assert all(checks.values())


def test_a_method_that_did_not_hold_is_named(recorded: ScenarioResult) -> None:
    method = next(iter(recorded.metrics["methods"]))
    recorded.metrics["methods"][method]["holds"] = False
    recorded.metrics["scaling"]["holds"] = False
    checks = load_balancing.checks(recorded.metrics)
    assert [check for check, holds in checks.items() if not holds] == [
        f"methods: {method}",
        "scaling",
    ]
