"""WebRTC signaling messages: what is forwarded, what is refused and why; TURN credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from api.signaling import (
    MAX_FRAME_BYTES,
    Candidate,
    Description,
    InvalidSignalError,
    forwarded,
    parse,
    turn_credentials,
)

OFFER_SDP = (
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
)


def test_an_offer_is_parsed_and_forwarded_with_its_sender() -> None:
    message = parse(json.dumps({"type": "offer", "to": "bob", "sdp": OFFER_SDP}))
    assert isinstance(message, Description)
    assert forwarded(message, "alice") == {"type": "offer", "sdp": OFFER_SDP, "from": "alice"}


def test_a_candidate_and_the_end_of_candidates_are_accepted() -> None:
    line = "candidate:1 1 udp 2130706431 172.20.0.5 40000 typ host"
    message = parse(json.dumps({"type": "candidate", "to": "bob", "candidate": line,
                                "sdpMid": "0", "sdpMLineIndex": 0}))  # fmt: skip
    assert isinstance(message, Candidate)
    assert parse(json.dumps({"type": "candidate", "to": "bob", "candidate": ""}))


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (None, "binary frames"),
        ("{not json", "not JSON"),
        (json.dumps({"type": "offer", "to": "bob", "sdp": "hello"}), "sdp"),
        (json.dumps({"type": "offer", "to": "Bob!", "sdp": OFFER_SDP}), "to"),
        (json.dumps({"type": "offer", "to": "bob", "sdp": "v=0\r\n" + "a" * 3900}), "sdp"),
        (json.dumps({"type": "candidate", "to": "bob", "candidate": "x" * 600}), "candidate"),
        (json.dumps({"type": "candidate", "to": "bob", "candidate": "typ host"}), "candidate"),
        (
            json.dumps({"type": "candidate", "to": "bob", "candidate": "", "sdpMLineIndex": 99}),
            "sdpMLineIndex",
        ),
        (json.dumps({"type": "hello", "to": "bob"}), "type"),
        (json.dumps({"type": "bye", "to": "bob", "extra": 1}), "extra"),
        ("x" * (MAX_FRAME_BYTES + 1), "over"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(frame: str | None, reason: str) -> None:
    with pytest.raises(InvalidSignalError, match=reason):
        parse(frame)


def test_turn_credentials_are_the_rest_api_scheme_and_expire() -> None:
    issued = turn_credentials(b"secret", "alice", now=1000.0, ttl_s=600)
    assert issued["username"] == "1600:alice"
    expected = base64.b64encode(hmac.new(b"secret", b"1600:alice", hashlib.sha1).digest())
    assert issued["credential"] == expected.decode()
    other = turn_credentials(b"another", "alice", now=1000.0, ttl_s=600)
    assert other["credential"] != issued["credential"]
