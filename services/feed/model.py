"""A feed event: an order moved to a new status. One id sequence for the whole feed."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["placed", "paid", "packed", "shipped", "cancelled"]
# The usual progression; an order can also be cancelled (DELETE /orders/{id}).
STATUSES: tuple[str, ...] = ("placed", "paid", "packed", "shipped")
ORDER_ID_PATTERN = r"^[A-Za-z0-9-]{1,32}$"


class NewEvent(BaseModel):
    """What a client sends to cause an event."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(pattern=ORDER_ID_PATTERN, examples=["A-1001"])
    status: Status


class FeedEvent(BaseModel):
    """An event as every client receives it."""

    id: int = Field(ge=1, description="Position in the feed: 1, 2, 3... across all replicas.")
    order_id: str
    status: Status
    published_at: float = Field(description="Unix seconds when the feed appended it.")

    @classmethod
    def from_json(cls, data: str | bytes) -> FeedEvent:
        return cls.model_validate_json(data)

    def to_json(self) -> str:
        return self.model_dump_json()


def body_after_id(event: NewEvent, published_at: float) -> str:
    """The event's JSON without its opening brace and id: store.py's script prepends them
    once Redis has given the id, so the id and the stored JSON come from one atomic step."""
    fields: dict[str, Any] = {
        "order_id": event.order_id,
        "status": event.status,
        "published_at": round(published_at, 6),
    }
    return json.dumps(fields, separators=(",", ":"))[1:]
