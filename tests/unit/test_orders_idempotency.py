"""Idempotency keys: the format, the fingerprint and each decision (no Docker).

draft-ietf-httpapi-idempotency-key-header-06, sections 2.1 (syntax), 2.4
(fingerprint), 2.6 and 2.7 (enforcement and errors).
"""

from uuid import UUID

import pytest

from api.idempotency import (
    Fresh,
    InFlight,
    MalformedKeyError,
    Mismatch,
    Replay,
    Resume,
    decide,
    event_id_for,
    fingerprint,
    parse_key,
)
from orders_db.keys import StoredKey

UUID_KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (f'"{UUID_KEY}"', UUID_KEY),  # a Structured Field String, as the draft writes it
        (UUID_KEY, UUID_KEY),  # a bare UUID, as clients of this api always sent
        (' "clkyoesmbgybucifusbbtdsbohtyuuwz" ', "clkyoesmbgybucifusbbtdsbohtyuuwz"),
        ("a" * 64, "a" * 64),
    ],
)
def test_keys_of_the_published_format_are_read(value: str, key: str) -> None:
    assert parse_key(value) == key


@pytest.mark.parametrize(
    "value",
    ["", '""', "short", "a" * 65, "has spaces in it, too many", '"quoted\\"inside-0123456"',
     "'single-quoted-key-1234'", "key;with;semicolons;12", "ünïcödé-key-0123456789"],
)  # fmt: skip
def test_anything_else_is_a_malformed_key(value: str) -> None:
    with pytest.raises(MalformedKeyError, match="16 to 64"):
        parse_key(value)


def test_a_uuid_key_is_the_event_id_and_any_other_key_gets_a_new_one() -> None:
    assert event_id_for(UUID_KEY) == UUID(UUID_KEY)
    other = "clkyoesmbgybucifusbbtdsbohtyuuwz"
    assert event_id_for(other) != event_id_for(other)  # random each time
    assert event_id_for(None) != event_id_for(None)


BODY = {"customer_id": "C-001", "sequence": 1, "amount_cents": 1999, "sku": None, "quantity": 1}


def test_the_fingerprint_ignores_key_order_and_sees_every_field_the_method_and_the_path() -> None:
    reordered = dict(reversed(list(BODY.items())))
    assert fingerprint("POST", "/orders", BODY) == fingerprint("post", "/orders", reordered)
    others = [
        fingerprint("POST", "/orders", {**BODY, "amount_cents": 2000}),
        fingerprint("POST", "/orders", {**BODY, "sequence": 2}),
        fingerprint("PUT", "/orders", BODY),
        fingerprint("POST", "/quotes", BODY),
    ]
    assert fingerprint("POST", "/orders", BODY) not in others
    assert len(set(others)) == len(others)
    assert len(fingerprint("POST", "/orders", BODY)) == 64


FP = fingerprint("POST", "/orders", BODY)


def stored(**changes: object) -> StoredKey:
    fields = {"fingerprint": FP, "done": False, "expired": False, "locked": True,
              "order_id": None, "response_status": None, "response_body": None}  # fmt: skip
    return StoredKey(**(fields | changes))


def test_a_key_never_seen_or_expired_is_a_first_request() -> None:
    assert decide(None, FP) == Fresh()
    assert decide(stored(expired=True, done=True, fingerprint="0" * 64), FP) == Fresh()


def test_a_completed_key_replays_the_first_answer() -> None:
    answer = {"order_id": "O-0123456789ab", "version": 1}
    done = stored(done=True, locked=False, response_status=201, response_body=answer)
    assert decide(done, FP) == Replay(201, answer)


def test_the_same_key_with_another_body_is_a_mismatch_even_when_done() -> None:
    assert decide(stored(fingerprint="0" * 64), FP) == Mismatch()
    done = stored(fingerprint="0" * 64, done=True, response_status=201, response_body={})
    assert decide(done, FP) == Mismatch()


def test_a_key_held_by_a_request_in_flight_is_a_conflict() -> None:
    assert decide(stored(locked=True), FP) == InFlight()
    assert decide(stored(locked=True, order_id="O-0123456789ab"), FP) == InFlight()


def test_a_key_whose_holder_let_go_resumes_its_order() -> None:
    assert decide(stored(locked=False, order_id="O-0123456789ab"), FP) == Resume("O-0123456789ab")
    assert decide(stored(locked=False), FP) == Resume(None)  # it died before storing anything
