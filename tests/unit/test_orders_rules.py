"""What a PUT or a DELETE on an order gets, each outcome and its failing cases (no Docker)."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from api.order_rules import (
    Apply,
    Refuse,
    Replacement,
    Unchanged,
    decide_delete,
    decide_put,
    transition_problem,
)
from orders_db.orders import Order

NOW = datetime(2026, 12, 6, tzinfo=UTC)
PLACED = Order("O-0123456789ab", "C-001", 1, None, 1, 1999, "placed", 1, NOW, NOW)
PAID = replace(PLACED, status="paid", version=2)
SHIPPED = replace(PLACED, status="shipped", version=3)
CANCELLED = replace(PLACED, status="cancelled", version=2)


def refusal(outcome: object) -> int:
    assert isinstance(outcome, Refuse), outcome
    assert outcome.reason
    return outcome.status


def test_put_applies_an_allowed_change_under_the_current_etag() -> None:
    assert decide_put(PLACED, '"v1"', Replacement(2500, "placed")) == Apply()
    assert decide_put(PLACED, '"v1"', Replacement(1999, "paid")) == Apply()
    assert decide_put(PAID, '"v2"', Replacement(1999, "shipped")) == Apply()
    assert decide_put(PLACED, "*", Replacement(1999, "paid")) == Apply()


def test_the_same_put_twice_is_unchanged_even_with_the_now_stale_etag() -> None:
    # The first PUT made v2; the retry still sends If-Match "v1" (RFC 9110, 13.1.1).
    assert decide_put(PAID, '"v1"', Replacement(1999, "paid")) == Unchanged()
    assert decide_put(PAID, '"v2"', Replacement(1999, "paid")) == Unchanged()


@pytest.mark.parametrize(
    ("order", "if_match", "wanted", "status"),
    [
        (None, '"v1"', Replacement(1999, "paid"), 404),
        (CANCELLED, '"v2"', Replacement(1999, "paid"), 410),
        (PLACED, None, Replacement(1999, "paid"), 428),
        (PLACED, '"v0"', Replacement(1999, "paid"), 412),
        (PLACED, "v1", Replacement(1999, "paid"), 412),  # malformed: the condition is false
        (PLACED, 'W/"v1"', Replacement(1999, "paid"), 412),  # weak never matches
        (PLACED, '"v1"', Replacement(1999, "shipped"), 409),  # paid first
        (PAID, '"v2"', Replacement(1999, "placed"), 409),  # no way back
        (SHIPPED, '"v3"', Replacement(1999, "paid"), 409),
        (PAID, '"v2"', Replacement(2500, "paid"), 409),  # the amount is fixed once paid
    ],
)
def test_put_refusals(
    order: Order | None, if_match: str | None, wanted: Replacement, status: int
) -> None:
    assert refusal(decide_put(order, if_match, wanted)) == status


def test_a_refused_transition_says_what_may_come_next() -> None:
    assert "next: paid" in str(transition_problem(PLACED, Replacement(1999, "shipped")))
    assert "final" in str(transition_problem(SHIPPED, Replacement(1999, "placed")))
    assert transition_problem(PLACED, Replacement(1, "paid")) is None


def test_delete_cancels_a_placed_or_paid_order_under_its_etag() -> None:
    assert decide_delete(PLACED, '"v1"') == Apply()
    assert decide_delete(PAID, '"v2"') == Apply()


def test_delete_of_a_cancelled_order_is_unchanged_whatever_it_sends() -> None:
    assert decide_delete(CANCELLED, None) == Unchanged()
    assert decide_delete(CANCELLED, '"v1"') == Unchanged()


@pytest.mark.parametrize(
    ("order", "if_match", "status"),
    [
        (None, '"v1"', 404),
        (PLACED, None, 428),
        (PLACED, '"v2"', 412),
        (PLACED, "garbage", 412),
        (SHIPPED, '"v3"', 409),
        (SHIPPED, '"v1"', 412),  # the precondition comes before the transition
    ],
)
def test_delete_refusals(order: Order | None, if_match: str | None, status: int) -> None:
    assert refusal(decide_delete(order, if_match)) == status
