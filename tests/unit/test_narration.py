"""The narration of a run (scenarios/narration.py), without Docker: what is told, where, when."""

from __future__ import annotations

import http.server
import io
import json
import re
import ssl
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from comms_sandbox import REPO, config
from scenarios import __main__ as cli
from scenarios import lessons, narration
from scenarios import load as load_module
from scenarios.result import NotShown, ScenarioResult, from_parts, run_once, run_part, run_parts
from scripts import silence


class TimedStream(io.StringIO):
    """A stream that remembers when each line was written."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def write(self, text: str) -> int:
        self.times.extend(time.monotonic() for _ in range(text.count("\n")))
        return super().write(text)

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()


@pytest.fixture
def plain() -> Iterator[tuple[narration.Plain, TimedStream]]:
    """A plain narrator in use, with a heartbeat fifty times as frequent as the real one."""
    stream = TimedStream()
    with narration.use(narration.Plain(stream, heartbeat_s=0.1)) as chosen:
        yield chosen, stream  # type: ignore[misc]


def test_plain_lines_come_at_least_every_heartbeat_while_waiting(plain: Any) -> None:
    _, stream = plain
    with narration.waiting("a new leader", expected_s=30):
        time.sleep(1.0)
    gaps = [b - a for a, b in zip(stream.times, stream.times[1:], strict=False)]
    # The heartbeat (0.1 s), plus the slack a busy 2-core machine's scheduler takes.
    assert max(gaps) <= 0.1 + 0.4, gaps
    still = [line for line in stream.lines() if " still " in line]
    assert len(still) >= 3
    assert "waiting for a new leader: 0 s of ~30 s" in still[0]


def test_the_real_heartbeat_is_at_most_five_seconds() -> None:
    assert narration.HEARTBEAT_S <= 5
    assert narration.Plain(io.StringIO()).heartbeat_s == narration.HEARTBEAT_S


def test_a_part_with_nothing_else_open_still_gets_a_heartbeat(plain: Any) -> None:
    _, stream = plain
    with narration.part("kafka_failover"):
        time.sleep(0.35)
    assert any("still" in line and "in part kafka_failover" in line for line in stream.lines())


def test_no_heartbeat_thread_outlives_what_it_watched(plain: Any) -> None:
    chosen, _ = plain
    with narration.waiting("something"):
        assert any(t.name == "narration-heartbeat" for t in threading.enumerate())
    chosen.close()
    assert not any(t.name == "narration-heartbeat" for t in threading.enumerate())


def test_steps_sightings_and_parts_are_timestamped_lines_naming_their_part(plain: Any) -> None:
    _, stream = plain
    with narration.part("kafka_failover"):
        narration.step("SIGKILL to kafka-1")
        narration.seen("partition 0: leader 2 after 5.6 s")
    lines = stream.lines()
    assert lines[0].endswith("part      kafka_failover starts")
    assert lines[1].endswith("do        [kafka_failover] SIGKILL to kafka-1")
    assert lines[2].endswith("saw       [kafka_failover] partition 0: leader 2 after 5.6 s")
    assert "part      kafka_failover done in" in lines[3]
    stamp, elapsed = lines[1].split()[:2]
    assert time.strptime(stamp, "%H:%M:%S") and elapsed.endswith("s")


def test_a_load_shows_its_counts_while_running_and_when_done(plain: Any) -> None:
    _, stream = plain
    with narration.load("acks=all stream", expected_s=10, total=5) as counts:
        counts.advance(sent=3)
        counts.advance(answered=2, failed=1)
        time.sleep(0.25)
        counts.update(sent=5, answered=4)
    lines = stream.lines()
    assert "acks=all stream: 5 to send over ~10 s" in lines[0]
    running = [line for line in lines if " still " in line]
    assert running and "acks=all stream: 3/5 sent, 2 answered, 1 failed" in running[0]
    assert "of ~10 s" in running[0]
    assert "acks=all stream: 5/5 sent, 4 answered, 1 failed" in lines[-1]


def test_counts_from_many_threads_add_up(plain: Any) -> None:
    with narration.load("threads") as counts:
        threads = [threading.Thread(target=lambda: [counts.advance(sent=1) for _ in range(500)])
                   for _ in range(8)]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert counts.activity.sent == 4000


def test_verdicts_name_holds_fails_and_not_shown_and_are_told_once_per_lesson(
    plain: Any,
) -> None:
    _, stream = plain
    with narration.lesson("demo"):
        run_part("first", lambda: {"holds": {"a": True, "b": False,
                                             "c": NotShown("busy machine")}})  # fmt: skip
        from_parts("demo", {"first": {"holds": {"a": True, "b": False, "c": NotShown("busy")}}},
                   ["first"], more={"no fault left configured": True})  # fmt: skip
    verdicts = [line.split(maxsplit=2)[2] for line in stream.lines()
                if line.split()[2] in ("holds", "fails", "not")]  # fmt: skip
    assert verdicts == [
        "holds     first: a",
        "fails     first: b",
        "not shown first: c: busy machine",
        "holds     no fault left configured",
    ]


def test_run_once_announces_the_lesson_and_tells_every_verdict(plain: Any) -> None:
    _, stream = plain

    def run() -> ScenarioResult:
        return ScenarioResult("demo", True, {"checks": {"it answered": True}})

    run_once("demo", run, about="Demo: a lesson")
    text = stream.getvalue()
    assert "lesson    demo: Demo: a lesson" in text
    assert "holds     it answered" in text
    assert "demo: ok True" in text


def test_run_parts_announces_each_part_as_it_starts(plain: Any) -> None:
    _, stream = plain
    started: list[str] = []

    def part(name: str) -> Any:
        def measured() -> dict[str, Any]:
            started.append(stream.lines()[-1])
            return {"holds": {"ok": True}}

        return measured

    run_parts({"one": part("one"), "two": part("two")})
    assert started[0].endswith("part      one starts")
    assert started[1].endswith("part      two starts")


def test_silent_tells_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with narration.use(narration.choose(quiet=True)):
        with narration.part("p"), narration.load("l", total=3) as counts:
            counts.advance(sent=3)
        narration.verdict("c", "holds")
    assert capsys.readouterr() == ("", "")


def test_choose_a_live_display_on_a_terminal_and_lines_elsewhere() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    live = narration.choose(stream=Terminal())
    try:
        assert isinstance(live, narration.Live)
    finally:
        live.close()
    assert isinstance(narration.choose(stream=io.StringIO()), narration.Plain)
    assert isinstance(narration.choose(quiet=True, stream=Terminal()), narration.Silent)


def test_the_live_display_prints_steps_loads_and_verdicts() -> None:
    out = io.StringIO()
    live = narration.Live(Console(file=out, force_terminal=True, width=120))
    with narration.use(live):
        with narration.part("breaker"):
            narration.step("toxic cut-answers on pricing")
            with narration.load("POST /quotes", expected_s=1, total=2) as counts:
                counts.advance(sent=2, answered=1, failed=1)
            narration.seen("breaker open")
        narration.verdict("breaker: opened", "holds")
        narration.verdict("breaker: closed", "not shown", "busy")
    text = out.getvalue()
    for expected in ("breaker starts", "toxic cut-answers on pricing", "breaker open",
                     "2/2 sent, 1 answered, 1 failed", "holds", "not shown"):  # fmt: skip
        assert expected in text


def test_nothing_happens_on_import() -> None:
    probe = (
        "import threading, scenarios.narration as n; "
        "print(n._current is None, len(threading.enumerate()))"
    )
    found = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                           text=True, check=True)  # fmt: skip
    assert found.stdout.split() == ["True", "1"]
    assert found.stderr == ""


# The CLI: narration on stderr only, stdout one JSON object; --quiet silent. -------------


def fake_lesson(name: str) -> lessons.Lesson:
    module = types.ModuleType("scenarios.fake", "Fake: a lesson made for this test.")

    def measured() -> dict[str, Any]:
        narration.step("SIGKILL to kafka-1")
        with narration.load("stream", total=2) as counts:
            counts.advance(sent=2, answered=2)
        return {"holds": {"no record lost": True, "on a quiet machine": NotShown("busy")}}

    def run() -> ScenarioResult:
        return from_parts(name, run_parts({"kill": measured}), ["kill"])

    module.run = run  # type: ignore[attr-defined]
    return lessons.Lesson(name, module)


@pytest.fixture
def cli_with_fake_lesson(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setattr(lessons, "get", fake_lesson)
    monkeypatch.setattr(config, "RESULTS_DIR", tmp_path)  # its report, not in the repo
    monkeypatch.delenv("SANDBOX_SHARED_RESULTS", raising=False)
    return CliRunner()


def test_json_keeps_stdout_clean_and_narrates_on_stderr(cli_with_fake_lesson: CliRunner) -> None:
    result = cli_with_fake_lesson.invoke(cli.app, ["run", "fake", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metrics"]["checks"]["kill: no record lost"] is True
    told = (
        "lesson    fake: Fake: a lesson made for this test.", "kill starts",
        "[kill] SIGKILL to kafka-1", "stream: 2/2 sent, 2 answered, 0 failed",
        "holds     kill: no record lost", "not shown kill: on a quiet machine: busy",
    )  # fmt: skip
    for line in told:
        assert line in result.stderr


def test_quiet_narrates_nothing(cli_with_fake_lesson: CliRunner) -> None:
    """Only where the report was written: one line at the end, no narration."""
    result = cli_with_fake_lesson.invoke(cli.app, ["run", "fake", "--json", "--quiet"])
    assert result.exit_code == 0
    assert result.stderr.startswith("report: file://") and result.stderr.count("\n") == 1
    assert json.loads(result.stdout)["ok"] is True


# The shared load generator reports its progress. ---------------------------------------


class Answers(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 500)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:  # quiet
        pass


def test_a_burst_reports_sent_answered_and_failed(
    plain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, stream = plain
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(load_module.config, "tls_context", ssl.create_default_context)
    try:
        calls = [load_module.Call("/ok")] * 3 + [load_module.Call("/broken")]
        load_module.burst(f"http://127.0.0.1:{server.server_port}", calls, 2)
    finally:
        server.shutdown()
        server.server_close()
    text = stream.getvalue()
    assert "GET /broken and 1 more: 4 to send" in text
    assert "GET /broken and 1 more: 4/4 sent, 3 answered, 1 failed" in text


# Measuring it: scripts/silence.py. ------------------------------------------------------


def test_silence_finds_the_longest_gap_between_stderr_lines() -> None:
    lines, returncode = silence.timed_lines(
        ["bash", "-c", "echo a >&2; sleep 0.6; echo ' still b' >&2; sleep 0.3; echo c >&2"]
    )
    assert returncode == 0
    assert [line.text for line in lines] == ["(start)", "a", " still b", "c", "(exit 0)"]
    longest = silence.gaps(lines)[0]
    assert (longest.before.text, longest.after.text) == ("a", " still b")
    assert 0.5 < longest.seconds < 1.5
    told = silence.gaps(lines, re.compile(" still "))[0]
    assert (told.before.text, told.after.text) == ("a", "c")


def test_on_a_terminal_silence_times_visible_changes_and_not_redraws() -> None:
    """A redraw that shows the same text is no sign of life; a changed one is."""
    script = ("printf 'a\\n'; sleep 0.6; printf '\\r\\033[2Ka'; sleep 0.3; "
              "printf '\\033[1mb\\033[0m\\n'")  # fmt: skip
    lines, returncode = silence.timed_chunks(["bash", "-c", script])
    assert returncode == 0
    assert [line.text for line in lines] == ["(start)", "a", "b", "(exit 0)"]
    assert 0.8 < silence.gaps(lines)[0].seconds < 2.0


def test_a_lesson_without_parts_still_gets_a_heartbeat(plain: Any) -> None:
    _, stream = plain
    with narration.lesson("request-response"):
        time.sleep(0.35)
    assert any("still" in line and "running request-response" in line for line in stream.lines())
