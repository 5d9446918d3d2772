"""POST /quotes: a validated request-response resource, priced by the gRPC pricing service."""

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.identity import HOSTNAME

router = APIRouter(tags=["request-response"])

Sku = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$", examples=["BOOK-42"])]


class QuoteIn(BaseModel):
    # Unknown fields are an error, not silently ignored: the client learns of its typo.
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: int = Field(ge=1, le=1000, examples=[3])


class QuoteOut(BaseModel):
    sku: str
    quantity: int
    unit_price_cents: int
    total_cents: int
    currency: str
    priced_by: str  # the pricing replica (gRPC hop)
    served_by: str  # the api replica (HTTP hop)


@router.post(
    "/quotes",
    summary="Price a quantity of a sku (calls the pricing service over gRPC)",
    responses={
        422: {"description": "The body is not a valid quote request"},
        503: {"description": "The pricing service is unavailable"},
        504: {"description": "The pricing service did not answer in time"},
    },
)
async def create_quote(body: QuoteIn, request: Request) -> QuoteOut:
    quote = await request.app.state.pricing.quote(body.sku, body.quantity)
    return QuoteOut(**vars(quote), served_by=HOSTNAME)
