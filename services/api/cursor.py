"""Opaque cursors for keyset pagination of GET /orders.

A cursor names the last order of a page by its sort key, (created_at, id),
and the customer whose listing it belongs to. The next page is "after that
position", one index range scan however deep the client goes (no OFFSET,
which reads and discards every row before the page). It is base64url of a
small JSON object: opaque to clients (they pass it back as they got it) and
checked on the way in, so a cursor that was not given out, or that belongs to
another listing, is a 400 with a reason, never a query.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime

VERSION = 1
MAX_LENGTH = 256
ORDER_ID = re.compile(r"^O-[0-9a-f]{12}$")


class BadCursorError(ValueError):
    """Not a cursor this api gave out for this listing."""


@dataclass(frozen=True)
class Position:
    customer_id: str
    created_at: datetime
    order_id: str


def encode(position: Position) -> str:
    data = {"v": VERSION, "c": position.customer_id, "t": position.created_at.isoformat(),
            "i": position.order_id}  # fmt: skip
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, customer_id: str) -> Position:
    """The position a cursor names; BadCursorError when it is not one of ours for this customer."""
    data = _payload(cursor)
    if set(data) != {"v", "c", "t", "i"} or data["v"] != VERSION:
        raise BadCursorError("not a cursor this api gave out")
    if data["c"] != customer_id:
        raise BadCursorError("this cursor belongs to another customer's listing")
    if not isinstance(data["i"], str) or not ORDER_ID.match(data["i"]):
        raise BadCursorError("not a cursor this api gave out")
    try:
        created_at = datetime.fromisoformat(data["t"])
    except (TypeError, ValueError):
        raise BadCursorError("not a cursor this api gave out") from None
    if created_at.tzinfo is None:
        raise BadCursorError("not a cursor this api gave out")
    return Position(customer_id, created_at, data["i"])


def _payload(cursor: str) -> dict[str, object]:
    if not cursor or len(cursor) > MAX_LENGTH or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
        raise BadCursorError("a cursor is the next_cursor of a previous page, as given")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise BadCursorError("not a cursor this api gave out") from None
    if not isinstance(data, dict):
        raise BadCursorError("not a cursor this api gave out")
    return data
