"""Idempotency keys on POST /orders, after draft-ietf-httpapi-idempotency-key-header-06
(https://datatracker.ietf.org/doc/html/draft-ietf-httpapi-idempotency-key-header-06).

- The key (section 2.1) is a Structured Field String, `Idempotency-Key: "..."`;
  a bare token is accepted too, so clients that send a plain UUID, as this api
  asked before, keep working. Its format is fixed and checked before anything
  else (section 5): 16 to 64 letters, digits, '-' or '_'. A UUID key also
  becomes the event's id, as it always did.
- The fingerprint (section 2.4) is a checksum of the method, the path and the
  body's fields (canonical JSON, so key order and spacing do not matter).
- Enforcement (sections 2.6 and 2.7): a first request is processed; a retry
  after it completed gets the first answer again, marked with
  `Idempotent-Replayed: true`; a retry while it is in flight gets 409; the key
  with another body gets 422.
- Expiry (section 2.3): a key lives 24 hours (API_IDEMPOTENCY_TTL_S), then
  counts as unused, and the api deletes expired keys every minute: storage is
  bounded by the keys of one day.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from orders_db.keys import StoredKey

KEY_FORMAT = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KEY_RULE = "16 to 64 letters, digits, '-' or '_' (a UUID will do), as a string: \"...\""
REPLAYED = "Idempotent-Replayed"


class MalformedKeyError(ValueError):
    """An Idempotency-Key that is not a key of the published format."""


def parse_key(value: str) -> str:
    """The key in an Idempotency-Key field value: an sf-string, or (for older clients) a bare
    token of the same format. RFC 8941's sf-string escapes only '"' and '\\', which the
    format has no use for, so a string with either is refused, not unescaped."""
    text = value.strip(" \t")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not KEY_FORMAT.match(text):
        raise MalformedKeyError(f"Idempotency-Key must be {KEY_RULE}")
    return text


def event_id_for(key: str | None) -> UUID:
    """A UUID key is the event's id (subscribers deduplicate by it); any other, a new one."""
    if key is not None:
        try:
            return UUID(key)
        except ValueError:
            pass  # a key of the format that is not a UUID: the event gets its own id
    return uuid4()


def fingerprint(method: str, path: str, fields: dict[str, Any]) -> str:
    """sha256 (hex) of the method, the path and the canonical JSON of the body's fields."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class Fresh:
    """A first request: process it."""


@dataclass(frozen=True)
class Resume:
    """The key's earlier request stopped before it answered for good (a broker did not
    confirm, the replica died): go on from what it stored, if anything."""

    order_id: str | None


@dataclass(frozen=True)
class Replay:
    """Completed before: the same status and body again."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class InFlight:
    """Another request with the key is being processed: 409."""


@dataclass(frozen=True)
class Mismatch:
    """The key was used with another body: 422."""


Decision = Fresh | Resume | Replay | InFlight | Mismatch


def decide(stored: StoredKey | None, request_fingerprint: str) -> Decision:
    """What a request with a key gets, given the key's row (None: never seen)."""
    if stored is None or stored.expired:
        return Fresh()
    if stored.fingerprint != request_fingerprint:
        return Mismatch()
    if stored.done:
        assert stored.response_status is not None and stored.response_body is not None
        return Replay(stored.response_status, stored.response_body)
    if stored.locked:
        return InFlight()
    return Resume(stored.order_id)
