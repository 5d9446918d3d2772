"""What a write to an order may do: the status transitions, and the decision for each
PUT and DELETE, from the stored order and the request alone (no I/O).

Statuses: placed -> paid -> shipped, and DELETE cancels a placed or paid order.
The order of the checks follows RFC 9110: a request that would fail without its
preconditions fails so first (404, 410: section 13.2.1); then the precondition
(If-Match, section 13.2.2), which RFC 6585 section 3 lets a server require
(428); then what the method asks for (409 when the transition is not allowed).
A write whose If-Match no longer holds but whose result is already the order's
state gets a 2xx, not a 412 (RFC 9110, section 13.1.1): the same PUT sent
twice answers the same state and the same ETag.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.conditional import etag_of, if_match_holds, if_match_problem
from orders_db.orders import Order

PLACED, PAID, SHIPPED, CANCELLED = "placed", "paid", "shipped", "cancelled"
# Where each status may go by PUT (staying put is always allowed).
NEXT: dict[str, frozenset[str]] = {
    PLACED: frozenset({PAID}),
    PAID: frozenset({SHIPPED}),
    SHIPPED: frozenset(),
}
CANCELLABLE = frozenset({PLACED, PAID})


@dataclass(frozen=True)
class Replacement:
    """What a PUT may replace: the amount (while placed) and the status."""

    amount_cents: int
    status: str


@dataclass(frozen=True)
class Refuse:
    """Answer `status` with `reason`; nothing changes."""

    status: int
    reason: str


@dataclass(frozen=True)
class Unchanged:
    """Answer the order as it is (200, or 204 for DELETE): the request's result already holds."""


@dataclass(frozen=True)
class Apply:
    """Make the change."""


Outcome = Refuse | Unchanged | Apply


def transition_problem(current: Order, wanted: Replacement) -> str | None:
    """Why `wanted` cannot follow the order's state, or None when it may."""
    if wanted.status != current.status and wanted.status not in NEXT[current.status]:
        allowed = ", ".join(sorted(NEXT[current.status])) or "nothing (it is final)"
        return f"an order {current.status} cannot become {wanted.status}; next: {allowed}"
    if wanted.amount_cents != current.amount_cents and current.status != PLACED:
        return f"the amount can change only while the order is placed (it is {current.status})"
    return None


def is_current(order: Order, wanted: Replacement) -> bool:
    return (order.amount_cents, order.status) == (wanted.amount_cents, wanted.status)


def decide_put(order: Order | None, if_match: str | None, wanted: Replacement) -> Outcome:
    refused = refused_before_the_change(order, if_match)
    if refused is not None:
        return refused
    assert order is not None and if_match is not None
    if is_current(order, wanted):
        # Whether If-Match holds or not: the PUT's result is already the order's state
        # (this client's earlier try, or an equal change by another), so 200, same ETag.
        return Unchanged()
    current = etag_of(order.version)
    if not if_match_holds(if_match, current):
        return Refuse(412, if_match_problem(if_match, current))
    problem = transition_problem(order, wanted)
    return Refuse(409, problem) if problem else Apply()


def refused_before_the_change(order: Order | None, if_match: str | None) -> Refuse | None:
    """404, 410 (cancelled: nothing may change) and 428: answered whatever the PUT asks."""
    if order is None:
        return Refuse(404, "no such order")
    if order.status == CANCELLED:
        return Refuse(410, f"order {order.id} was cancelled: it cannot change any more")
    if if_match is None:
        return Refuse(428, "send If-Match with the ETag of the order you read (GET it first)")
    return None


def decide_delete(order: Order | None, if_match: str | None) -> Outcome:
    if order is None:
        return Refuse(404, "no such order")
    if order.status == CANCELLED:
        return Unchanged()  # DELETE is idempotent (RFC 9110, section 9.2.2): still cancelled
    if if_match is None:
        return Refuse(428, "send If-Match with the ETag of the order you read (GET it first)")
    current = etag_of(order.version)
    if not if_match_holds(if_match, current):
        return Refuse(412, if_match_problem(if_match, current))
    if order.status not in CANCELLABLE:
        return Refuse(409, f"an order {order.status} cannot be cancelled")
    return Apply()
