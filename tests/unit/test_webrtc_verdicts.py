"""The WebRTC lesson's verdicts, fed runs where the property failed."""

from __future__ import annotations

from typing import Any

import pytest

from scenarios import webrtc


def reports(local: str, remote: str, answered: int = 200) -> dict[str, Any]:
    caller = {"pair": {"local": {"type": local}, "remote": {"type": remote}},
              "data": {"sent": 200, "answered": answered, "lost": 200 - answered},
              "open_ms": 80.0, "signaling_replica": "a"}  # fmt: skip
    return {"caller": caller, "answerer": {"signaling_replica": "b"}}


@pytest.mark.parametrize(
    "case",
    [
        ("host", "host", "host", 200, True),
        ("relay", "relay", "relay", 200, True),
        ("host", "relay", "relay", 200, False),  # relayed where a direct path existed
        ("relay", "host", "relay", 200, False),
        ("host", "host", "host", 199, False),  # a message lost
    ],
)
def test_pair_verdicts(monkeypatch: pytest.MonkeyPatch, case: tuple[Any, ...]) -> None:
    expected, local, remote, answered, holds = case
    monkeypatch.setattr(webrtc.webrtc, "peer_pair", lambda *a: reports(local, remote, answered))
    result = webrtc.pair_part("rtc-peer-a", "rtc-peer-b", expected)
    assert all(result["holds"].values()) is holds


def test_a_relay_pair_nominated_first_is_tried_again_and_a_direct_one_then_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """aioice nominates the first pair whose check succeeds: on a busy machine that was
    once a relay pair between two peers on one network."""
    calls = iter([reports("host", "relay"), reports("host", "host")])
    monkeypatch.setattr(webrtc.webrtc, "peer_pair", lambda *a: next(calls))
    result = webrtc.pair_part("rtc-peer-a", "rtc-peer-a", "host")
    assert all(result["holds"].values())
    assert [p["remote"]["type"] for p in result["pairs_of_each_call"]] == ["relay", "host"]


def test_a_path_that_never_works_fails_after_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []
    monkeypatch.setattr(webrtc.webrtc, "peer_pair",
                        lambda *a: made.append(1) or reports("host", "relay"))  # fmt: skip
    result = webrtc.pair_part("rtc-peer-a", "rtc-peer-a", "host")
    assert not result["holds"]["the selected pair is host to host"]
    assert len(made) == webrtc.CALLS_PER_PART
