"""OrderPlaced: the event on the wire (JSON, UTF-8), validated on both sides.

`event_id` is the idempotency key: a consumer that sees it twice (a publisher
retried after a lost confirm, a broker redelivered after a restart) counts a
duplicate and does the work once. `sequence` numbers one customer's events in
publish order, so a consumer can check per-key ordering.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CustomerId = str
CUSTOMER_PATTERN = r"^C-[0-9]{3,8}$"


class InvalidEventError(ValueError):
    """Bytes that are not a valid OrderPlaced: the reason goes with the dead letter."""


class OrderPlaced(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID = Field(default_factory=uuid4)
    type: Literal["order.placed"] = "order.placed"
    order_id: str = Field(pattern=r"^O-[0-9A-Za-z-]{1,40}$")
    customer_id: CustomerId = Field(pattern=CUSTOMER_PATTERN)
    sequence: int = Field(ge=1)  # this customer's n-th event
    amount_cents: int = Field(ge=1, le=10_000_000)
    placed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> OrderPlaced:
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidEventError(reasons) from exc


def sample_orders(count: int, customers: int = 5) -> list[OrderPlaced]:
    """`count` events spread round robin over `customers`, each customer's numbered 1, 2, 3..."""
    sequence: dict[str, int] = {}
    orders = []
    for n in range(count):
        customer = f"C-{n % customers + 1:03d}"
        sequence[customer] = sequence.get(customer, 0) + 1
        orders.append(
            OrderPlaced(
                order_id=f"O-{n + 1:06d}",
                customer_id=customer,
                sequence=sequence[customer],
                amount_cents=100 + n,
            )
        )
    return orders


POISON = b'{"type": "order.placed", "order_id": "O-poison", "amount_cents": -5}'
"""A message every consumer must refuse: missing fields and a negative amount."""
