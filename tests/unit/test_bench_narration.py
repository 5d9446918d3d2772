"""`python -m bench` narrates (benchmark, set-up, round, verdicts) and its results join the
index: a fake benchmark, no Docker."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Any

import pytest

import bench.__main__ as runner
from bench.stack import startup
from bench.support.narrate import Verdict, measuring
from comms_sandbox import config
from scenarios import narration
from scenarios.reports import benchmarks, uis, write_index


def fake_run() -> dict[str, Any]:
    for round_ in (1, 2):
        for set_up in ("tracing off", "tracing on"):
            with measuring(set_up, round_, 2, expected_s=8):
                narration.step(f"wrk against {set_up}")
    return {"benchmark": "fake", "ratio": 0.9}


def fake_verdicts(result: dict[str, Any]) -> list[Verdict]:
    return [Verdict("tracing costs under 15%", result["ratio"] >= 0.85, f"{result['ratio']}x"),
            Verdict("p99 within 10%", False, "1.3x")]  # fmt: skip


def fake_benchmark() -> types.ModuleType:
    module = types.ModuleType("fake", "A fake benchmark: tracing off against on.")
    module.NAME, module.LESSON = "fake", None  # type: ignore[attr-defined]
    module.run = fake_run  # type: ignore[attr-defined]
    module.tables = lambda result: []  # type: ignore[attr-defined]
    module.verdicts = fake_verdicts  # type: ignore[attr-defined]
    module.expected_s = lambda: 40.0  # type: ignore[attr-defined]
    return module


class KeptStack:
    """StackState without Docker: nothing to restore."""

    def restore(self) -> None:
        """The test's stack is imaginary."""


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The runner with the fake benchmark only; no container touched; results in tmp_path."""
    monkeypatch.setattr(runner, "discover", lambda: {"fake": fake_benchmark()})
    monkeypatch.setattr(runner.StackState, "now", classmethod(lambda cls: KeptStack()))
    monkeypatch.setattr(runner, "stop_lesson_services", lambda: None)
    monkeypatch.setattr(runner, "start_default_stack", lambda: None)
    monkeypatch.setattr(runner, "context", lambda: {"containers_running": 0})
    monkeypatch.setattr(config, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(uis, "status", lambda: [(ui, False) for ui in uis.known()])
    return tmp_path


def told(stderr: str) -> list[str]:
    """The narrated lines without their time stamps: 'kind [part] text'."""
    return [re.sub(r"^\d\d:\d\d:\d\d +[+-][\d.]+s ", "", line) for line in stderr.splitlines()]


def test_a_benchmark_narrates_its_name_set_ups_rounds_and_verdicts(
    no_docker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert runner.main(["fake"]) == 0
    lines = told(capsys.readouterr().err)
    text = "\n".join(lines)
    assert any(line.startswith("lesson") and "fake: A fake benchmark" in line
               and "expected ~40 s" in line for line in lines), text  # fmt: skip
    for set_up in ("tracing off", "tracing on"):
        assert f"part      {set_up} starts" in text
    assert "wait      [tracing on] round 2 of 2 (~8.0 s)" in text
    assert "[tracing off] wrk against tracing off" in text
    assert "holds     tracing costs under 15%: 0.9x" in text
    assert "fails     p99 within 10%: 1.3x" in text
    assert "index: file://" in text


def test_quiet_narrates_nothing(no_docker: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.main(["--quiet", "fake"]) == 0
    err = capsys.readouterr().err
    assert "fake" not in err and "round" not in err and "tracing" not in err
    assert err.strip().startswith("index: ")  # where the index is: no narration


def test_the_results_keep_the_verdicts_and_join_the_index(
    no_docker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner.main(["--quiet", "fake"])
    saved = json.loads((no_docker / "bench-fake.json").read_text())
    assert [v["outcome"] for v in saved["verdicts"]] == ["holds", "fails"]
    assert saved["finished"].endswith("+00:00")
    index = (no_docker / "index.html").read_text()
    assert "<h2 id='benchmarks'>Benchmarks</h2>" in index
    assert "href='bench-fake.json'" in index
    assert "data-benchmark='fake' data-verdict='fails'" in index
    assert "1 of 2 met" in index


def test_the_index_lists_a_sample_bench_json_without_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSON from before benchmarks kept verdicts: its file's time, and no targets recorded."""
    monkeypatch.setattr(uis, "status", lambda: [(ui, False) for ui in uis.known()])
    (tmp_path / "bench-startup.json").write_text(json.dumps({"benchmark": "startup", "sets": {}}))
    index = write_index(tmp_path).read_text()
    assert "href='bench-startup.json'" in index
    assert "data-benchmark='startup' data-verdict='no targets'" in index
    assert "none recorded" in index
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", benchmarks.section(tmp_path))


def test_the_index_says_when_no_benchmark_ran(tmp_path: Path) -> None:
    assert "No benchmark has run here yet" in benchmarks.section(tmp_path)


def test_start_up_narrates_each_lesson_it_cycles(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """up / healthy after N s / down, per set, without Docker."""
    monkeypatch.setattr(startup, "compose", lambda *args, **kwargs: None)
    monkeypatch.setattr(startup, "timed_up", lambda services: (4.2, {"a": 1.0, "b": 4.2}))
    monkeypatch.setattr(startup, "idle_memory_mib", lambda: {"a": 100.0, "b": 50.0})
    monkeypatch.setattr(startup, "SETTLE_S", 0)
    with narration.use(narration.Plain()), narration.part("load-balancing (3 of 15)"):
        measured = startup.measure("load-balancing", ("api",))
    text = "\n".join(told(capsys.readouterr().err))
    assert "down: nothing running" in text
    assert "wait      [load-balancing (3 of 15)] load-balancing: up and healthy (~8.0 s)" in text
    assert "load-balancing: 2 containers healthy after 4.2 s" in text
    assert "load-balancing: 150 MiB idle in 2 containers" in text
    assert measured["up_to_all_healthy_s"] == 4.2
