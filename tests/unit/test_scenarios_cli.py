"""The scenarios CLI and result helpers, without a running sandbox (no Docker)."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from scenarios import __main__ as cli
from scenarios.report import print_checks
from scenarios.result import (
    SHARED_RESULTS,
    NotShown,
    ScenarioResult,
    from_parts,
    outcome,
    percentiles_ms,
    run_once,
)

REPO = Path(__file__).resolve().parents[2]


def scenarios_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scenarios", *args],
        cwd=REPO, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


def test_list_names_every_scenario() -> None:
    result = scenarios_cli("list")
    assert result.returncode == 0
    assert "request-response" in result.stdout
    assert "load-balancing  Load balancing: nginx spreads requests" in result.stdout
    assert "tls-termination  TLS termination: where TLS ends" in result.stdout
    for name in ("pubsub-rabbitmq", "pubsub-kafka", "pubsub-compare", "sidecar"):
        assert f"{name}  " in result.stdout


def test_unknown_scenario_is_a_clear_error() -> None:
    result = scenarios_cli("run", "no-such-pattern")
    assert result.returncode == 2
    assert "request-response" in result.stdout


def test_sandbox_down_names_make_up(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as unused:  # bound, not listening: connections are refused
        unused.bind(("127.0.0.1", 0))
        env = {"PROXY_PORT": str(unused.getsockname()[1]), "PATH": "/usr/bin:/bin"}
        result = scenarios_cli("run", "request-response", env=env)
    assert result.returncode == 3
    assert "make up" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_percentiles_in_milliseconds() -> None:
    samples = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    p = percentiles_ms(samples)
    assert p["p50"] == pytest.approx(50.5, abs=0.6)
    assert p["p99"] == pytest.approx(99, abs=1.1)
    assert p["max"] == 100.0


def test_result_json_shape() -> None:
    result = ScenarioResult("x", True, {"errors": 0}, [{"status": 200}])
    assert json.loads(json.dumps(result.to_json())) == {
        "scenario": "x", "ok": True, "metrics": {"errors": 0}, "evidence": [{"status": 200}],
        "not_shown": {},
    }  # fmt: skip


def test_run_once_shares_a_run_within_a_test_session_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []

    def run() -> ScenarioResult:
        runs.append(1)
        return ScenarioResult("demo", True, {"n": (1, 2)})

    monkeypatch.delenv(SHARED_RESULTS, raising=False)
    run_once("demo", run), run_once("demo", run)
    assert len(runs) == 2  # a learner's every call runs
    monkeypatch.setenv(SHARED_RESULTS, str(tmp_path))
    first, again = run_once("demo", run), run_once("demo", run)
    assert len(runs) == 3 and first == again
    assert first.metrics == {"n": [1, 2]}  # as JSON has it, fresh or reused


BUSY = NotShown("the machine was busy: 0.9 cores left (1.5 needed)")


def parts(**checks: object) -> dict[str, dict[str, object]]:
    return {"part": {"holds": checks}}


def test_a_check_holds_fails_or_was_not_shown_with_a_reason() -> None:
    assert [outcome(True), outcome(False), outcome(BUSY)] == ["holds", "fails", "not shown"]
    assert outcome(str(BUSY)) == "not shown"  # as JSON reads it back
    assert outcome("") == "fails"  # no reason, no excuse
    with pytest.raises(ValueError):
        NotShown(" ")


def test_a_not_shown_check_is_no_bool() -> None:
    with pytest.raises(TypeError):
        all([True, BUSY])  # never silently counted as held


def test_a_run_with_a_check_not_shown_is_ok_on_the_others_and_says_which() -> None:
    result = from_parts("x", parts(a=True, b=BUSY), ["part"])
    assert result.ok
    assert result.not_shown == {"part: b": str(BUSY)}
    assert not from_parts("x", parts(a=False, b=BUSY), ["part"]).ok  # a failure still fails
    assert not from_parts("x", parts(b=BUSY), ["part"]).ok  # nothing shown, nothing ok


def test_not_shown_survives_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SHARED_RESULTS, str(tmp_path))
    run_once("busy", lambda: from_parts("busy", parts(a=True, b=BUSY), ["part"]))
    again = run_once("busy", lambda: ScenarioResult("busy", False, {}))
    assert again.ok and again.not_shown == {"part: b": str(BUSY)}
    assert outcome(again.metrics["checks"]["part: b"]) == "not shown"


def test_the_report_prints_not_shown_apart_from_holds_and_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console = Console(record=True, width=200)
    monkeypatch.setattr(cli, "console", console)
    print_checks({"a": True, "b": False, "c": BUSY}, console)
    cli.print_not_shown({"c": str(BUSY)})
    assert console.export_text().splitlines() == [
        "a: holds", "b: does NOT hold", "c: not shown", f"not shown: c: {BUSY}",
    ]  # fmt: skip
