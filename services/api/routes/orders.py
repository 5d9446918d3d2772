"""Orders as resources, stored in PostgreSQL (services/orders_db/).

- POST /orders stores the order and its OrderPlaced outbox row in one
  transaction and answers 201 Created with Location and ETag (RFC 9110,
  sections 15.3.2, 10.2.2, 8.8.3). With ORDERS_PUBLISH=outbox (the default)
  that is all: the relay (services/outbox_relay/) publishes the outbox row to
  both brokers. With ORDERS_PUBLISH=dual-write (the old path, kept for the
  lesson) the api then publishes the event to RabbitMQ and Kafka itself and
  answers 503, naming the broker, when one did not confirm: the order is
  stored anyway, which is the dual write's problem. An Idempotency-Key makes a
  retry safe (api/idempotency.py).
- GET /orders/{id} with If-None-Match (304); GET /orders?customer_id=...,
  keyset-paginated (api/cursor.py).
- PUT /orders/{id} replaces the amount and the status; DELETE /orders/{id}
  cancels. Both require If-Match (428 without, 412 when stale); what a write
  may do is api/order_rules.py. A cancelled order is gone: 410.

An order names its amount, or a sku and a quantity that the pricing service
prices over gRPC first (the observability lesson follows that hop too).
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import psycopg
from fastapi import APIRouter, Body, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from feed.model import NewEvent
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field, model_validator
from redis.exceptions import RedisError

from api import bearer, cursor, idempotency
from api.conditional import etag_of, if_none_match_holds
from api.database import pool_of
from api.idempotency import REPLAYED, Fresh, InFlight, Mismatch, Replay, Resume
from api.order_rules import CANCELLED, Apply, Refuse, Replacement, decide_delete, decide_put
from api.routes.quotes import Sku
from api.settings import settings
from order_events.model import CUSTOMER_PATTERN, OrderPlaced
from orders_db import keys, orders
from orders_db.orders import Order

log = logging.getLogger("api.orders")
router = APIRouter(tags=["orders"])

ORDER_ID = re.compile(r"^O-[0-9a-f]{12}$")
MAX_PAGE = 100
FEED_TIMEOUT_S = 1.0
DATABASE = {
    503: {"description": "PostgreSQL is down, restarting or out of connections: retry"},
    504: {"description": "A statement ran past its statement_timeout (SQLSTATE 57014)"},
}
ETAG_HEADER = {"ETag": {"description": 'The order\'s entity tag, "v" and its version'}}


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=CUSTOMER_PATTERN, examples=["C-001"])
    # The customer's n-th order, as the client numbers them: subscribers use
    # it to check that each customer's events arrive in order.
    sequence: int = Field(ge=1, le=2**31 - 1, examples=[1])
    amount_cents: int | None = Field(default=None, ge=1, le=10_000_000, examples=[1999])
    # Or let the pricing service price it: a sku and a quantity instead of an amount.
    sku: Sku | None = None
    quantity: int = Field(default=1, ge=1, le=1000)

    @model_validator(mode="after")
    def amount_or_sku(self) -> OrderIn:
        if (self.amount_cents is None) == (self.sku is None):
            raise ValueError("give either amount_cents or a sku (with a quantity), not both")
        return self


class OrderOut(BaseModel):
    """An order as GET shows it; its ETag is "v" and its version."""

    order_id: str
    customer_id: str
    sequence: int
    sku: str | None
    quantity: int
    amount_cents: int
    status: Literal["placed", "paid", "shipped", "cancelled"]
    version: int
    created_at: datetime
    updated_at: datetime


class OrderPlacedOut(OrderOut):
    """POST's answer: the order, and what became of its OrderPlaced event."""

    event_id: UUID
    # broker -> "confirmed" or why not (dual-write); "outbox" when the relay publishes.
    published: dict[str, str]
    priced_by: str | None = None  # the pricing replica, when the order named a sku


class OrderPage(BaseModel):
    orders: list[OrderOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: last")


class OrderReplacement(BaseModel):
    """What a PUT replaces: the amount (only while placed) and the status. Cancel with DELETE."""

    model_config = ConfigDict(extra="forbid")

    amount_cents: int = Field(ge=1, le=10_000_000, examples=[2500])
    status: Literal["placed", "paid", "shipped"] = Field(examples=["paid"])


OrderIdPath = Annotated[str, "an order id, O- and 12 hex digits"]
IfMatch = Annotated[
    str | None, Header(description='The ETag of the order as you read it, e.g. "v1" (required)')
]


def representation(order: Order) -> dict[str, Any]:
    fields = {name: getattr(order, name) for name in OrderOut.model_fields if name != "order_id"}
    return OrderOut(order_id=order.id, **fields).model_dump(mode="json")


def order_headers(order_id: str, version: int) -> dict[str, str]:
    return {"ETag": str(etag_of(version)), "Location": f"/orders/{order_id}",
            "Cache-Control": "no-cache"}  # fmt: skip


def refuse(outcome: Refuse, order: Order | None) -> HTTPException:
    headers = {"ETag": str(etag_of(order.version))} if outcome.status == 412 and order else None
    return HTTPException(outcome.status, outcome.reason, headers)


def known_id(order_id: str) -> str:
    """The id if it can name an order; an id that cannot is as unknown as one that does not."""
    if not ORDER_ID.match(order_id):
        raise HTTPException(404, "no such order")
    return order_id


async def tell_feed(request: Request, order: Order) -> None:
    """Put the order's new status on the order-status feed (lesson polling-and-push).

    After the commit and best effort: the feed is a notification, the database is
    the truth (GET /orders/{id}). A feed that is down costs a log line, not the answer.
    """
    hub = request.app.state.feed
    if hub is None:
        return
    try:
        event = NewEvent(order_id=order.id, status=order.status)
        await asyncio.wait_for(hub.store.append(event), FEED_TIMEOUT_S)
    except (RedisError, TimeoutError) as exc:
        log.warning("order %s is %s, but the feed did not take it: %s", order.id, order.status, exc)


# Lesson auth: which customer a token acts for ---------------------------------


def may_act_for(request: Request, customer_id: str) -> bool:
    """True when the api asks for no token, or the token's subject is this customer."""
    caller = bearer.caller(request)
    return caller is None or caller.subject == customer_id


def owned(request: Request, order: Order | None) -> Order | None:
    """The order, or None when it is another customer's: 404 as for an order that does
    not exist, so a token cannot learn which order ids exist (RFC 9110, 15.5.4: a server
    that wishes to hide a forbidden resource's existence MAY answer 404 instead of 403)."""
    return order if order is not None and may_act_for(request, order.customer_id) else None


# POST /orders ----------------------------------------------------------------


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderPlacedOut,
    summary="Place an order: stored with its OrderPlaced event, then published",
    responses={
        201: {"description": "Stored (and, dual-write, confirmed by every broker)",
              "headers": {**ETAG_HEADER, "Location": {"description": "/orders/{id}"},
                          REPLAYED: {"description": "true: the first answer to this key"}}},
        400: {"description": "A malformed Idempotency-Key (or a body that is not JSON)"},
        409: {"description": "A request with this Idempotency-Key is still in flight"},
        422: {"description": "Invalid fields, or this Idempotency-Key was used with another body"},
        503: {"description": "A broker did not confirm (the order is stored: retry with the "
                             "same key), pricing or the database is down"},
        504: {"description": "Pricing or the database did not answer in time"},
    },
)  # fmt: skip
async def place_order(
    order: OrderIn,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(description='Send the same key when retrying: "16 to 64 letters, digits, - or _"; '
                           "a UUID key becomes the event_id. Remembered 24 h."),
    ] = None,
) -> JSONResponse:  # fmt: skip
    if not may_act_for(request, order.customer_id):
        raise HTTPException(403, f"this token acts for another customer than {order.customer_id}")
    key = None
    if idempotency_key is not None:
        try:
            key = idempotency.parse_key(idempotency_key)
        except idempotency.MalformedKeyError as exc:
            raise HTTPException(400, str(exc)) from None
    pool = pool_of(request)
    if key is None:
        return await place_new(request, pool, order, None)
    fingerprint = idempotency.fingerprint("POST", "/orders", order.model_dump(mode="json"))
    decision = await claim(pool, key, fingerprint)
    match decision:
        case Replay(status, body):
            return JSONResponse(body, status, replay_headers(body))
        case Mismatch():
            raise HTTPException(422, "this Idempotency-Key was used with another request body: "
                                     "use a new key for a new order")  # fmt: skip
        case InFlight():
            raise HTTPException(409, "a request with this Idempotency-Key is in flight: "
                                     "retry once it has answered")  # fmt: skip
        case Resume(order_id) if order_id is not None:
            return await resume(request, pool, key, order_id)
        case _:
            return await place_new(request, pool, order, key)


def replay_headers(body: dict[str, Any]) -> dict[str, str]:
    headers = {REPLAYED: "true"}
    if isinstance(body.get("order_id"), str) and isinstance(body.get("version"), int):
        headers |= order_headers(body["order_id"], body["version"])
    return headers


async def claim(pool: AsyncConnectionPool, key: str, fingerprint: str) -> idempotency.Decision:
    """Look the key up and take it for this request when it may go on, in one transaction."""
    async with pool.connection() as conn, conn.transaction():
        decision = idempotency.decide(await keys.lock(conn, key), fingerprint)
        if isinstance(decision, Fresh):
            lease, ttl = settings.idempotency_lease_s, settings.idempotency_ttl_s
            if not await keys.claim(conn, key, fingerprint, ttl, lease):
                return InFlight()  # another request inserted it after our look-up
        elif isinstance(decision, Resume):
            await keys.hold(conn, key, settings.idempotency_lease_s)
        return decision


async def place_new(
    request: Request, pool: AsyncConnectionPool, order: OrderIn, key: str | None
) -> JSONResponse:
    try:
        amount, priced_by = await price(request, order)
    except HTTPException:
        if key is not None:
            await forget(pool, key)  # nothing was stored: a retry starts afresh
        raise
    event_id = idempotency.event_id_for(key)
    event = OrderPlaced(
        event_id=event_id,
        order_id=f"O-{event_id.hex[:12]}",
        customer_id=order.customer_id,
        sequence=order.sequence,
        amount_cents=amount,
    )
    stored = await store(pool, event, order, key, priced_by)
    await tell_feed(request, stored)
    return await publish(request, pool, key=key, stored=stored, event=event, priced_by=priced_by)


async def price(request: Request, order: OrderIn) -> tuple[int, str | None]:
    """The order's amount, and the pricing replica that computed it (None when given)."""
    if order.sku is None:
        assert order.amount_cents is not None  # OrderIn's validator
        return order.amount_cents, None
    quote = await request.app.state.pricing.quote(order.sku, order.quantity)
    return quote.total_cents, quote.priced_by


async def store(
    pool: AsyncConnectionPool,
    event: OrderPlaced,
    order: OrderIn,
    key: str | None,
    priced_by: str | None,
) -> Order:
    """The order, its outbox row and (with a key) the key's link to it: one transaction.
    In outbox mode that is the whole job, so the key's answer is recorded in it too."""
    try:
        async with pool.connection() as conn, conn.transaction():
            stored = await orders.insert_order(conn, event, order.sku, order.quantity)
            await orders.insert_placed_event(conn, event)
            if key is not None:
                await keys.attach_order(conn, key, stored.id)
                if settings.orders_publish == "outbox":
                    await keys.finish(conn, key, 201, placed_body(stored, event, OUTBOX, priced_by))
    except psycopg.errors.UniqueViolation as exc:
        if key is not None:
            await forget(pool, key)
        raise HTTPException(409, f"order {event.order_id} exists already: its id comes from "
                                 "this Idempotency-Key, used for it over a day ago; "
                                 "use a new key") from exc  # fmt: skip
    except psycopg.Error:
        # Rolled back (a statement timeout, a lost connection): nothing is stored, so a
        # retry may start afresh at once, if the database still answers to say so.
        if key is not None:
            await forget(pool, key)
        raise
    return stored


OUTBOX = {"outbox": "committed: the relay publishes it"}


def placed_body(
    stored: Order, event: OrderPlaced, published: dict[str, str], priced_by: str | None
) -> dict[str, Any]:
    return OrderPlacedOut(
        **representation(stored), event_id=event.event_id, published=published,
        priced_by=priced_by,
    ).model_dump(mode="json")  # fmt: skip


async def publish(
    request: Request,
    pool: AsyncConnectionPool,
    *,
    key: str | None,
    stored: Order,
    event: OrderPlaced,
    priced_by: str | None,
) -> JSONResponse:
    """After the commit. dual-write: publish to both brokers now, record which confirmed,
    201 only when both did; outbox: nothing to do here, the relay publishes."""
    if settings.orders_publish == "outbox":
        body = placed_body(stored, event, OUTBOX, priced_by)
        return JSONResponse(body, 201, order_headers(stored.id, stored.version))
    published = await request.app.state.events.publish(event)
    body = placed_body(stored, event, published, priced_by)
    refused = {broker: why for broker, why in published.items() if why != "confirmed"}
    status = 503 if refused else 201
    if refused:
        body["detail"] = "stored, but not confirmed by " + "; ".join(
            f"{broker} ({why})" for broker, why in refused.items()
        ) + ": retry with the same Idempotency-Key to publish it again"  # fmt: skip
    await record_outcome(pool, key, event, [b for b in published if b not in refused], body)
    headers = order_headers(stored.id, stored.version)
    return JSONResponse(body, status, headers if status == 201 else {"Retry-After": "1"} | headers)


async def record_outcome(
    pool: AsyncConnectionPool,
    key: str | None,
    event: OrderPlaced,
    confirmed: list[str],
    body: dict[str, Any],
) -> None:
    """Mark the outbox row per broker that confirmed; finish the key on success, or let the
    next retry resume at once. Best effort: the order is stored either way, and a key
    left in flight is taken over when its lease runs out."""
    try:
        async with pool.connection() as conn, conn.transaction():
            await orders.mark_published(conn, event.event_id, confirmed)
            if key is not None and "detail" not in body:
                await keys.finish(conn, key, 201, body)
            elif key is not None:
                await keys.release(conn, key)
    except psycopg.Error as exc:
        log.warning("order %s published to %s, not recorded: %s", event.order_id, confirmed, exc)


async def resume(
    request: Request, pool: AsyncConnectionPool, key: str, order_id: str
) -> JSONResponse:
    """A retry of a key whose order is stored but whose answer was not final: publish the
    stored event again (same event_id: subscribers drop what they already have)."""
    async with pool.connection() as conn:
        stored = await orders.get_order(conn, order_id)
        event = await orders.placed_event(conn, order_id)
    if stored is None or event is None:
        await forget(pool, key)
        raise HTTPException(409, f"order {order_id}, stored under this key, is gone: retry")
    if settings.orders_publish == "outbox":
        body = placed_body(stored, event, OUTBOX, None)
        await record_outcome(pool, key, event, [], body)
        return JSONResponse(body, 201, order_headers(stored.id, stored.version))
    return await publish(request, pool, key=key, stored=stored, event=event, priced_by=None)


async def forget(pool: AsyncConnectionPool, key: str) -> None:
    try:
        async with pool.connection() as conn:
            await keys.forget(conn, key)
    except psycopg.Error as exc:
        log.warning("idempotency key not released (its lease will run out): %s", exc)


# GET /orders, GET /orders/{id} ------------------------------------------------


@router.get(
    "/orders",
    response_model=OrderPage,
    summary="A customer's orders, newest first, a page at a time (keyset pagination)",
    responses={
        400: {"description": "A cursor this api did not give out for this listing"},
        **DATABASE,
    },
)
async def list_orders(
    request: Request,
    customer_id: Annotated[str, Query(pattern=CUSTOMER_PATTERN, examples=["C-001"])],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Orders per page")] = 20,
    after: Annotated[
        str | None,
        Query(alias="cursor", max_length=cursor.MAX_LENGTH,
              description="next_cursor of the previous page, as given"),
    ] = None,
) -> JSONResponse:  # fmt: skip
    if not may_act_for(request, customer_id):
        raise HTTPException(403, f"this token acts for another customer than {customer_id}")
    try:
        position = cursor.decode(after, customer_id) if after is not None else None
    except cursor.BadCursorError as exc:
        raise HTTPException(400, f"cursor: {exc}") from None
    pool = pool_of(request)
    since = (position.created_at, position.order_id) if position else None
    async with pool.connection() as conn:
        rows = await orders.list_orders(conn, customer_id, since, limit + 1)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = cursor.encode(cursor.Position(customer_id, last.created_at, last.id))
    body = OrderPage(orders=[OrderOut(**representation(o)) for o in page], next_cursor=next_cursor)
    headers = {"Cache-Control": "no-cache"}
    if next_cursor:  # RFC 8288: the next page's link, for clients that follow links
        url = f"/orders?customer_id={customer_id}&limit={limit}&cursor={next_cursor}"
        headers["Link"] = f'<{url}>; rel="next"'
    return JSONResponse(body.model_dump(mode="json"), headers=headers)


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="One order, with its ETag; If-None-Match with that ETag gets 304",
    responses={
        200: {"headers": ETAG_HEADER},
        304: {"description": "If-None-Match names the current ETag: nothing changed"},
        404: {"description": "No such order"},
        410: {"description": "The order was cancelled (DELETE): gone for good"},
        **DATABASE,
    },
)
async def get_order(
    order_id: OrderIdPath,
    request: Request,
    if_none_match: Annotated[str | None, Header(description='An ETag you have, e.g. "v1"')] = None,
) -> Response:
    pool = pool_of(request)
    async with pool.connection() as conn:
        order = owned(request, await orders.get_order(conn, known_id(order_id)))
    if order is None:
        raise HTTPException(404, "no such order")
    if order.status == CANCELLED:
        raise HTTPException(410, f"order {order.id} was cancelled")
    headers = order_headers(order.id, order.version)
    del headers["Location"]
    if if_none_match is not None and not if_none_match_holds(if_none_match, etag_of(order.version)):
        return Response(status_code=304, headers=headers)
    return JSONResponse(representation(order), headers=headers)


# PUT /orders/{id}, DELETE /orders/{id} ----------------------------------------

WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such order"},
    409: {"description": "The change is not allowed from the order's status (the reason says)"},
    410: {"description": "The order was cancelled: it cannot change any more"},
    412: {"description": "If-Match does not match the current ETag (or is malformed)"},
    428: {"description": "If-Match is missing: GET the order, send its ETag"},
    **DATABASE,
}


@router.put(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="Replace the order's amount and status (If-Match required); the same PUT twice "
            "leaves the same state and the same ETag",
    responses={200: {"headers": ETAG_HEADER}, **WRITE_ERRORS},
)  # fmt: skip
async def replace_order(
    order_id: OrderIdPath,
    replacement: Annotated[OrderReplacement, Body()],
    request: Request,
    if_match: IfMatch = None,
) -> JSONResponse:
    pool = pool_of(request)
    wanted = Replacement(replacement.amount_cents, replacement.status)
    async with pool.connection() as conn, conn.transaction():
        order = owned(request, await orders.get_order(conn, known_id(order_id), for_update=True))
        outcome = decide_put(order, if_match, wanted)
        if isinstance(outcome, Refuse):
            raise refuse(outcome, order)
        assert order is not None
        if isinstance(outcome, Apply):
            order = await orders.update_order(conn, order.id, wanted.amount_cents, wanted.status)
    if isinstance(outcome, Apply):
        await tell_feed(request, order)
    headers = order_headers(order.id, order.version)
    del headers["Location"]
    return JSONResponse(representation(order), headers=headers)


@router.delete(
    "/orders/{order_id}",
    status_code=204,
    summary="Cancel the order (If-Match required); afterwards GET answers 410 Gone",
    responses={
        204: {"description": "Cancelled (or it already was: DELETE is idempotent)"},
        **{status: answer for status, answer in WRITE_ERRORS.items() if status != 410},
    },
)
async def cancel_order(
    order_id: OrderIdPath, request: Request, if_match: IfMatch = None
) -> Response:
    pool = pool_of(request)
    async with pool.connection() as conn, conn.transaction():
        order = owned(request, await orders.get_order(conn, known_id(order_id), for_update=True))
        outcome = decide_delete(order, if_match)
        if isinstance(outcome, Refuse):
            raise refuse(outcome, order)
        assert order is not None
        if isinstance(outcome, Apply):
            order = await orders.update_order(conn, order.id, order.amount_cents, CANCELLED)
    if isinstance(outcome, Apply):
        await tell_feed(request, order)
    return Response(status_code=204)
