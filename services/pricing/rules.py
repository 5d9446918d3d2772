"""Pricing rules, kept apart from gRPC so they are easy to test and to read."""

import hashlib
import re

SKU_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
MAX_QUANTITY = 1000
MAX_TICKS = 100
MAX_INTERVAL_MS = 5000
CURRENCY = "EUR"


class InvalidQuoteError(ValueError):
    """The request cannot be priced; the message says why, `field` says where."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def validate(sku: str, quantity: int) -> None:
    validate_sku(sku)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidQuoteError(
            f"quantity {quantity} must be between 1 and {MAX_QUANTITY}", "quantity"
        )


def validate_sku(sku: str) -> None:
    if not SKU_PATTERN.fullmatch(sku):
        raise InvalidQuoteError(f"sku {sku!r} must match {SKU_PATTERN.pattern}", "sku")


def validate_watch(sku: str, count: int, interval_ms: int) -> None:
    validate_sku(sku)
    if not 1 <= count <= MAX_TICKS:
        raise InvalidQuoteError(f"count {count} must be between 1 and {MAX_TICKS}", "count")
    if not 0 <= interval_ms <= MAX_INTERVAL_MS:
        raise InvalidQuoteError(
            f"interval_ms {interval_ms} must be between 0 and {MAX_INTERVAL_MS}", "interval_ms"
        )


def counter_offer(price_cents: int, offered_cents: int) -> tuple[int, bool]:
    """Meet halfway, rounding up; an offer at or above the price is accepted."""
    if offered_cents >= price_cents:
        return offered_cents, True
    return -(-(price_cents + max(offered_cents, 0)) // 2), False


def unit_price_cents(sku: str) -> int:
    """A stable made-up price (100 to 9,999 cents): the same sku always costs the same."""
    digest = hashlib.sha256(sku.encode()).digest()
    return 100 + int.from_bytes(digest[:4], "big") % 9900
