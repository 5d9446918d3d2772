"""POST /orders: accept an order and publish an OrderPlaced event to RabbitMQ and Kafka.

An order names its amount, or a sku and a quantity that the pricing service
prices over gRPC first (the observability lesson follows that hop too).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.routes.quotes import Sku
from order_events.model import CUSTOMER_PATTERN, OrderPlaced

router = APIRouter(tags=["publish-subscribe"])


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=CUSTOMER_PATTERN, examples=["C-001"])
    # The customer's n-th order, as the client numbers them: subscribers use
    # it to check that each customer's events arrive in order.
    sequence: int = Field(ge=1, examples=[1])
    amount_cents: int | None = Field(default=None, ge=1, le=10_000_000, examples=[1999])
    # Or let the pricing service price it: a sku and a quantity instead of an amount.
    sku: Sku | None = None
    quantity: int = Field(default=1, ge=1, le=1000)

    @model_validator(mode="after")
    def amount_or_sku(self) -> OrderIn:
        if (self.amount_cents is None) == (self.sku is None):
            raise ValueError("give either amount_cents or a sku (with a quantity), not both")
        return self


class OrderAccepted(BaseModel):
    order_id: str
    event_id: UUID
    published: dict[str, str]  # broker -> "confirmed"
    amount_cents: int
    priced_by: str | None = None  # the pricing replica, when the order named a sku


@router.post(
    "/orders",
    status_code=202,
    summary="Accept an order; every broker confirms its OrderPlaced event before the answer",
    responses={
        503: {"description": "A broker did not confirm, or pricing is down: retry, same key"},
        504: {"description": "The pricing service did not answer in time"},
    },
)
async def place_order(
    order: OrderIn,
    request: Request,
    idempotency_key: Annotated[
        UUID | None,
        Header(description="Send the same UUID when retrying: it becomes the event_id."),
    ] = None,
) -> JSONResponse:
    event_id = idempotency_key or uuid4()
    amount, priced_by = order.amount_cents, None
    if order.sku is not None:
        quote = await request.app.state.pricing.quote(order.sku, order.quantity)
        amount, priced_by = quote.total_cents, quote.priced_by
    event = OrderPlaced(
        event_id=event_id,
        order_id=f"O-{event_id.hex[:12]}",
        customer_id=order.customer_id,
        sequence=order.sequence,
        amount_cents=amount,
    )
    published = await request.app.state.events.publish(event)
    accepted = OrderAccepted(
        order_id=event.order_id,
        event_id=event_id,
        published=published,
        amount_cents=amount,
        priced_by=priced_by,
    )
    confirmed = all(outcome == "confirmed" for outcome in published.values())
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202 if confirmed else 503)
