"""The statements on orders and their outbox rows. Each runs on a connection the
caller holds, inside the caller's transaction: an order and its OrderPlaced
row commit together or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from telemetry.links import context_headers

from order_events.model import OrderPlaced

PLACED = "OrderPlaced"  # outbox event_type of an order's creation
BROKERS = ("rabbitmq", "kafka")


@dataclass(frozen=True)
class Order:
    """One row of sandbox.orders."""

    id: str
    customer_id: str
    sequence: int
    sku: str | None
    quantity: int
    amount_cents: int
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


COLUMNS = (
    "id, customer_id, sequence, sku, quantity, amount_cents, status, version, created_at, "
    "updated_at"
)


async def insert_order(
    conn: AsyncConnection[Any], event: OrderPlaced, sku: str | None, quantity: int
) -> Order:
    """The order as its OrderPlaced event describes it, created when the event was."""
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(
            f"INSERT INTO sandbox.orders (id, customer_id, sequence, sku, quantity, amount_cents,"
            f" created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}",
            (event.order_id, event.customer_id, event.sequence, sku, quantity,
             event.amount_cents, event.placed_at, event.placed_at),
        )  # fmt: skip
        row = await cur.fetchone()
    assert row is not None  # INSERT ... RETURNING returns the row or raises
    return row


async def insert_placed_event(conn: AsyncConnection[Any], event: OrderPlaced) -> None:
    """The outbox row: the event exactly as the brokers get it (order_events.model), and
    the request's message headers (request id, trace context) for the relay to send it under."""
    await conn.execute(
        "INSERT INTO sandbox.outbox (event_id, event_type, aggregate_id, payload, created_at,"
        " headers) VALUES (%s, %s, %s, %s, %s, %s)",
        (event.event_id, PLACED, event.order_id, Jsonb(event.model_dump(mode="json")),
         event.placed_at, Jsonb(context_headers())),
    )  # fmt: skip


async def placed_event(conn: AsyncConnection[Any], order_id: str) -> OrderPlaced | None:
    """The OrderPlaced event stored with the order, to publish it again (same event_id)."""
    cur = await conn.execute(
        "SELECT payload FROM sandbox.outbox WHERE aggregate_id = %s AND event_type = %s",
        (order_id, PLACED),
    )
    row = await cur.fetchone()
    return OrderPlaced.model_validate(row[0]) if row else None


async def mark_published(conn: AsyncConnection[Any], event_id: object, brokers: list[str]) -> None:
    """Record which brokers confirmed the event (the dual write's own publish does it;
    the relay does it in outbox mode): what is still NULL is what never arrived."""
    for broker in brokers:
        if broker not in BROKERS:
            raise ValueError(f"unknown broker {broker!r}")
    await conn.execute(
        "UPDATE sandbox.outbox SET"
        " rabbitmq_published_at = CASE WHEN %s THEN coalesce(rabbitmq_published_at, now())"
        "   ELSE rabbitmq_published_at END,"
        " kafka_published_at = CASE WHEN %s THEN coalesce(kafka_published_at, now())"
        "   ELSE kafka_published_at END"
        " WHERE event_id = %s",
        ("rabbitmq" in brokers, "kafka" in brokers, event_id),
    )


async def get_order(
    conn: AsyncConnection[Any], order_id: str, *, for_update: bool = False
) -> Order | None:
    """The order, or None; `for_update` locks its row until the transaction ends, so a
    concurrent write waits and then sees this one's result (its If-Match then fails)."""
    lock = " FOR UPDATE" if for_update else ""
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(f"SELECT {COLUMNS} FROM sandbox.orders WHERE id = %s{lock}", (order_id,))
        return await cur.fetchone()


async def list_orders(
    conn: AsyncConnection[Any],
    customer_id: str,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Order]:
    """A customer's live orders, newest first, after the (created_at, id) position `after`:
    keyset pagination, one index range scan (orders_by_customer) whatever the page."""
    position, values = "", [customer_id]
    if after is not None:
        position = " AND (created_at, id) < (%s, %s)"
        values += list(after)
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(
            f"SELECT {COLUMNS} FROM sandbox.orders"
            f" WHERE customer_id = %s AND status <> 'cancelled'{position}"
            " ORDER BY created_at DESC, id DESC LIMIT %s",
            (*values, limit),
        )
        return await cur.fetchall()


async def update_order(
    conn: AsyncConnection[Any], order_id: str, amount_cents: int, status: str
) -> Order:
    """The new state, as a new version (the ETag changes with it)."""
    async with conn.cursor(row_factory=class_row(Order)) as cur:
        await cur.execute(
            "UPDATE sandbox.orders SET amount_cents = %s, status = %s, version = version + 1,"
            f" updated_at = now() WHERE id = %s RETURNING {COLUMNS}",
            (amount_cents, status, order_id),
        )
        row = await cur.fetchone()
    if row is None:
        raise LookupError(f"order {order_id} vanished while locked")
    return row
