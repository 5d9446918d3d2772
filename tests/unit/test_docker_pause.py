"""docker.pause: runc's "unable to freeze" is tried again; any other error is not."""

from __future__ import annotations

import pytest

from comms_sandbox import docker

NOT_FROZEN = "docker pause api-1: OCI runtime pause failed: unable to freeze: unknown"


def failing_then_ok(failures: list[str], calls: list[tuple[str, ...]]) -> object:
    def fake(*args: str) -> str:
        calls.append(args)
        if failures:
            raise docker.DockerError(failures.pop(0))
        return ""

    return fake


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker.time, "sleep", lambda _: None)


def test_a_freeze_that_did_not_take_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(docker, "_docker", failing_then_ok([NOT_FROZEN, NOT_FROZEN], calls))
    docker.pause("api-1")
    assert calls == [("pause", "api-1")] * 3


def test_another_error_or_too_many_tries_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(docker, "_docker", failing_then_ok(["No such container: api-9"], calls))
    with pytest.raises(docker.DockerError, match="No such container"):
        docker.pause("api-9")
    assert len(calls) == 1
    calls.clear()
    monkeypatch.setattr(
        docker, "_docker", failing_then_ok([NOT_FROZEN] * docker.PAUSE_TRIES, calls)
    )
    with pytest.raises(docker.DockerError, match="unable to freeze"):
        docker.pause("api-1")
    assert len(calls) == docker.PAUSE_TRIES
