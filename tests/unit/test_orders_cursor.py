"""Opaque keyset cursors: they round-trip, and anything not given out is refused (no Docker)."""

import base64
import json
from datetime import UTC, datetime

import pytest

from api.cursor import BadCursorError, Position, decode, encode

POSITION = Position("C-001", datetime(2026, 12, 6, 3, 4, 5, 678901, tzinfo=UTC), "O-0123456789ab")


def forged(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_cursor_round_trips_to_the_microsecond() -> None:
    cursor = encode(POSITION)
    assert decode(cursor, "C-001") == POSITION
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_a_cursor_of_another_customer_is_refused_with_that_reason() -> None:
    with pytest.raises(BadCursorError, match="another customer"):
        decode(encode(POSITION), "C-002")


GOOD = {"v": 1, "c": "C-001", "t": POSITION.created_at.isoformat(), "i": POSITION.order_id}


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "A" * 300,
        "AAAA",  # base64 of bytes that are not JSON
        forged([1, 2]),
        forged({**GOOD, "v": 2}),
        forged({**GOOD, "extra": 1}),
        forged({k: v for k, v in GOOD.items() if k != "i"}),
        forged({**GOOD, "i": "O-1' OR '1'='1"}),
        forged({**GOOD, "i": 7}),
        forged({**GOOD, "t": "yesterday"}),
        forged({**GOOD, "t": 12}),
        forged({**GOOD, "t": "2026-12-06T03:04:05"}),  # no time zone
        base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("="),
    ],
)
def test_anything_not_given_out_is_refused(cursor: str) -> None:
    with pytest.raises(BadCursorError):
        decode(cursor, "C-001")
