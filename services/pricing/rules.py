"""Pricing rules, kept apart from gRPC so they are easy to test and to read."""

import hashlib
import re

SKU_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
MAX_QUANTITY = 1000
CURRENCY = "EUR"


class InvalidQuoteError(ValueError):
    """The request cannot be priced; the message says why."""


def validate(sku: str, quantity: int) -> None:
    if not SKU_PATTERN.fullmatch(sku):
        raise InvalidQuoteError(f"sku {sku!r} must match {SKU_PATTERN.pattern}")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidQuoteError(f"quantity {quantity} must be between 1 and {MAX_QUANTITY}")


def unit_price_cents(sku: str) -> int:
    """A stable made-up price (100 to 9,999 cents): the same sku always costs the same."""
    digest = hashlib.sha256(sku.encode()).digest()
    return 100 + int.from_bytes(digest[:4], "big") % 9900
