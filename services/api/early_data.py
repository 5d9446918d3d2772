"""425 Too Early for unsafe requests that arrived in TLS early data (RFC 8470).

A resumed TLS 1.3 or QUIC client may send its first request before the
handshake completes (0-RTT). Anyone who captured those packets can send them
again, and the server cannot tell the copy from the original. nginx accepts
early data and marks such a request with `Early-Data: 1` (it also drops that
header when a client sends it itself: proxy/http_versions.py).

Only safe methods run from early data: a GET can be replayed without harm, a
POST (an order, a payment) must not run twice. Anything else gets 425; the
client sends it again once the handshake is complete, when no replay is
possible.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.guards import reply

EARLY_DATA_HEADER = b"early-data"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOO_EARLY = 425


def refused_as_too_early(method: str, headers: list[tuple[bytes, bytes]]) -> bool:
    """True for an unsafe method with `Early-Data: 1` (any other value: not early)."""
    early = any(name == EARLY_DATA_HEADER and value.strip() == b"1" for name, value in headers)
    return early and method.upper() not in SAFE_METHODS


class TooEarly:
    """Answers 425 before the route runs, so nothing of the request has an effect."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and refused_as_too_early(scope["method"], scope["headers"]):
            detail = (
                f"{scope['method']} arrived in TLS early data (0-RTT), which can be replayed: "
                "send it again after the handshake"
            )
            await reply(send, TOO_EARLY, detail)
            return
        await self.app(scope, receive, send)
