"""POST /orders: accept an order and publish an OrderPlaced event to RabbitMQ and Kafka."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from events.model import CUSTOMER_PATTERN, OrderPlaced

router = APIRouter(tags=["publish-subscribe"])


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=CUSTOMER_PATTERN, examples=["C-001"])
    # The customer's n-th order, as the client numbers them: subscribers use
    # it to check that each customer's events arrive in order.
    sequence: int = Field(ge=1, examples=[1])
    amount_cents: int = Field(ge=1, le=10_000_000, examples=[1999])


class OrderAccepted(BaseModel):
    order_id: str
    event_id: UUID
    published: dict[str, str]  # broker -> "confirmed"


@router.post(
    "/orders",
    status_code=202,
    summary="Accept an order; every broker confirms its OrderPlaced event before the answer",
    responses={503: {"description": "A broker did not confirm: retry with the same key"}},
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
    event = OrderPlaced(
        event_id=event_id,
        order_id=f"O-{event_id.hex[:12]}",
        customer_id=order.customer_id,
        sequence=order.sequence,
        amount_cents=order.amount_cents,
    )
    published = await request.app.state.events.publish(event)
    accepted = OrderAccepted(order_id=event.order_id, event_id=event_id, published=published)
    confirmed = all(outcome == "confirmed" for outcome in published.values())
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202 if confirmed else 503)
