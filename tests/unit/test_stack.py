"""`make up`'s preflight: a taken port stops start-up with the port and its variable named."""

import socket
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from comms_sandbox import compose
from scripts import stack


def test_taken_port_stops_up_and_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    real_compose = stack.compose

    def compose_but_never_up(*args: str, capture: bool = False) -> subprocess.CompletedProcess:
        assert args[0] != "up", "the preflight let `up` start despite a taken port"
        return real_compose(*args, capture=capture)

    monkeypatch.setattr(stack, "compose", compose_but_never_up)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        monkeypatch.setenv("KAFKA_PORT", str(port))
        monkeypatch.setenv("COLUMNS", "200")
        result = CliRunner().invoke(stack.app, ["up"])
    assert result.exit_code == 1
    assert f"Port {port} is taken" in result.output
    assert "KAFKA_PORT" in result.output


def test_a_free_port_is_not_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    monkeypatch.setenv("KAFKA_PORT", str(free))
    assert stack.ports.KAFKA not in stack.taken_ports()


def fake_docker(
    listed: str, finished: dict[str, str], calls: list[list[str]]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`docker ps` answers `listed`; `docker inspect NAME` answers not running, stopped
    at finished[NAME]."""

    def docker(args: list[str], **_kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        answer = {"ps": listed, "inspect": f"false {finished.get(args[-1], '')}"}.get(args[1], "")
        return subprocess.CompletedProcess(args, 0, stdout=answer)

    return docker


def test_only_what_a_cut_recreation_left_behind_is_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listed = "comms-sandbox-api-1\n62230024923f_comms-sandbox-migrate-1\ncomms-sandbox-kafka-1\n"
    calls: list[list[str]] = []
    finished = {"62230024923f_comms-sandbox-migrate-1": "2026-01-01T10:00:00.123456789Z"}
    monkeypatch.setattr(compose.subprocess, "run", fake_docker(listed, finished, calls))
    assert compose.remove_cut_recreations() == ["62230024923f_comms-sandbox-migrate-1"]
    assert "label=com.docker.compose.project=comms-sandbox" in calls[0]
    assert calls[-1] == ["docker", "rm", "--force", "62230024923f_comms-sandbox-migrate-1"]


def test_a_renamed_container_of_an_up_running_now_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The other test lane's `up` renames the container it re-creates for a few seconds."""
    listed = "62230024923f_comms-sandbox-api-1\n"
    just_now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    calls: list[list[str]] = []
    finished = {"62230024923f_comms-sandbox-api-1": just_now}
    monkeypatch.setattr(compose.subprocess, "run", fake_docker(listed, finished, calls))
    assert compose.remove_cut_recreations() == []
    assert not any("rm" in call for call in calls)


def ps_answer(*states: tuple[str, str, int, str]) -> Callable[..., list[dict[str, object]]]:
    rows = [{"Service": s, "State": st, "ExitCode": code, "Health": h} for s, st, code, h in states]
    return lambda *_flags: rows


@pytest.mark.parametrize(
    ("states", "up"),
    [
        ((("proxy", "running", 0, "healthy"), ("migrate", "exited", 0, "")), True),
        ((("proxy", "running", 0, "starting"), ("migrate", "exited", 0, "")), False),
        ((("proxy", "running", 0, "healthy"), ("migrate", "exited", 1, "")), False),
        ((("proxy", "exited", 0, ""), ("migrate", "exited", 0, "")), False),
        ((("proxy", "running", 0, "healthy"),), False),  # the job never ran
    ],
)
def test_a_lesson_counts_as_up_only_when_every_service_runs_healthy_or_its_job_succeeded(
    monkeypatch: pytest.MonkeyPatch, states: tuple[tuple[str, str, int, str], ...], up: bool
) -> None:
    monkeypatch.setattr(compose, "compose_ps", ps_answer(*states))
    assert compose.all_healthy(["proxy", "migrate"]) is up


def test_a_lesson_already_up_is_left_as_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `up`: it would bring the default stack back to compose.yaml under its users."""
    monkeypatch.setattr(stack, "all_healthy", lambda _services: True)
    monkeypatch.setattr(stack, "tracing_follows", lambda _services: True)
    monkeypatch.setattr(stack, "compose", lambda *args, **_kw: pytest.fail(f"ran {args}"))
    assert stack.start(["proxy", "echo"]) == 0.0


def test_a_lesson_up_with_tracing_not_as_it_wants_is_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The observability lesson's services started by hand, tracing off: switched."""
    started: list[list[str]] = []
    monkeypatch.setattr(stack, "all_healthy", lambda _services: True)
    monkeypatch.setattr(stack, "tracing_follows", lambda _services: False)
    monkeypatch.setattr(stack, "start_own", lambda own, build: started.append(own) or 1.0)
    stack.start(["zipkin", "shipping"])
    assert [sorted(own) for own in started] == [["shipping", "zipkin"]]


def test_in_a_test_lane_only_the_lessons_own_services_start_and_nothing_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The other lane re-creates and scales the default services: never `up` them."""
    ups: list[tuple[str, ...]] = []
    monkeypatch.setenv(compose.TEST_LANE_VARIABLE, "own")
    monkeypatch.setattr(stack, "all_healthy", lambda _services: False)
    monkeypatch.setattr(stack, "ensure_images", lambda _services: None)
    monkeypatch.setattr(stack, "let_proxy_follow", lambda _services: None)
    monkeypatch.setattr(stack, "switch_tracing_for", lambda _services: {})
    monkeypatch.setattr(
        stack,
        "compose",
        lambda *args, **_kw: ups.append(args) or subprocess.CompletedProcess(args, 0),
    )
    stack.start(["proxy", "echo"])
    ((args),) = ups
    assert args[-1] == "echo" and "proxy" not in args
    assert "--no-deps" in args and "--no-build" in args
