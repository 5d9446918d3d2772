"""`make up`'s preflight: a taken port stops start-up with the port and its variable named."""

import socket
import subprocess

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


def test_only_what_a_cut_recreation_left_behind_is_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listed = "comms-sandbox-api-1\n62230024923f_comms-sandbox-migrate-1\ncomms-sandbox-kafka-1\n"
    calls: list[list[str]] = []

    def docker(args: list[str], **_kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, stdout=listed if args[1] == "ps" else "")

    monkeypatch.setattr(compose.subprocess, "run", docker)
    assert compose.remove_cut_recreations() == ["62230024923f_comms-sandbox-migrate-1"]
    assert "label=com.docker.compose.project=comms-sandbox" in calls[0]
    assert calls[1] == ["docker", "rm", "--force", "62230024923f_comms-sandbox-migrate-1"]
