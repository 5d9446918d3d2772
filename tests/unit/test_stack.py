"""`make up`'s preflight: a taken port stops start-up with the port and its variable named."""

import socket
import subprocess

import pytest
from typer.testing import CliRunner

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


def test_the_migrations_are_the_one_shot_job_others_wait_for() -> None:
    assert stack.one_shot_jobs() == {"migrate"}


class RunningStack:
    """What `compose ps` and `docker inspect` would say: healthy or not, tracing on or off."""

    def __init__(self, healthy: bool, tracing: str) -> None:
        self.healthy, self.tracing = healthy, tracing
        self.asked: list[set[str]] = []

    def all_healthy(self, services: set[str]) -> bool:
        self.asked.append(set(services))
        return self.healthy

    def compose_ps(self, *services: str) -> list[dict[str, str]]:
        return [{"Name": f"comms-sandbox-{s}-1", "Service": s} for s in services]

    def environment(self, _name: str) -> dict[str, str]:
        return {stack.TRACING_VARIABLE: self.tracing}


@pytest.mark.parametrize(
    ("healthy", "tracing", "expected"),
    [(True, "off", True), (False, "off", False), (True, "on", False)],
)
def test_dependencies_are_left_alone_only_when_up_and_traced_as_wanted(
    monkeypatch: pytest.MonkeyPatch, healthy: bool, tracing: str, expected: bool
) -> None:
    running = RunningStack(healthy, tracing)
    monkeypatch.setattr(stack, "all_healthy", running.all_healthy)
    monkeypatch.setattr(stack, "compose_ps", running.compose_ps)
    monkeypatch.setattr(stack.docker, "environment", running.environment)
    wanted = {stack.TRACING_VARIABLE: "off"}
    assert stack.dependencies_up(["toxiproxy", "api-faults"], wanted) is expected
    # The lesson's own services and the one-shot migrations are not asked about.
    assert not running.asked[0] & {"toxiproxy", "api-faults", "migrate"}
    assert "pricing" in running.asked[0]
