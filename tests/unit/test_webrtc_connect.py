"""comms_sandbox.webrtc.connect: a signaling handshake that timed out is tried once more;
a second time out fails with what nginx and the replicas looked like."""

from __future__ import annotations

from typing import Any

import pytest

from comms_sandbox import webrtc


def handshakes(outcomes: list[object]) -> Any:
    def fake(url: str, **_: Any) -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return fake


@pytest.fixture(autouse=True)
def no_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webrtc, "signaling_diagnosis", lambda: "replicas healthy")


def test_one_timed_out_handshake_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    connection = object()
    attempts = [TimeoutError("timed out"), connection]
    monkeypatch.setattr(webrtc, "ws_connect", handshakes(attempts))
    assert webrtc.connect("wss://proxy/signal/ws") is connection
    assert attempts == []


def test_a_second_time_out_fails_with_the_diagnosis(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = [TimeoutError("timed out")] * webrtc.CONNECT_TRIES
    monkeypatch.setattr(webrtc, "ws_connect", handshakes(attempts))
    with pytest.raises(TimeoutError, match="replicas healthy"):
        webrtc.connect("wss://proxy/signal/ws")
