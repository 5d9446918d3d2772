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
from scenarios.result import SHARED_RESULTS, NotShown, ScenarioResult, percentiles_ms, run_once

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


BUSY = NotShown("the machine was busy: 0.9 cores idle, 1.5 needed")


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
