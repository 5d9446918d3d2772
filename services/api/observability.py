"""The api's side of observability: each request's id, its access log line, its metrics.

The request id comes from X-Request-ID (nginx keeps a good one or makes one;
a bad one is replaced here too, since the api is also reachable without
nginx). It is bound for the whole request, so the pricing call, both
publishes and every log line carry it, and, when tracing is on, it tags the
request's server span, which is how the trace is found in Zipkin.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from telemetry import REQUEST_ID_HEADER, bound_request_id

log = logging.getLogger("api.access")

UNMATCHED_ROUTE = "unmatched"  # one label for every unknown path: bounded cardinality
# Probed every second by Docker and nginx: counted, but not logged line by line.
QUIET_ROUTES = frozenset({"/healthz", "/readyz"})
REQUESTS = Counter(
    "http_server_requests",
    "HTTP requests answered by this api replica",
    ["method", "route", "status"],
)
DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Time from the request's arrival to the end of its response, per route",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def route_of(scope: Scope) -> str:
    """The route template (/feed/events/{id}), never the raw path, as a metric label."""
    route = scope.get("route")
    return getattr(route, "path", UNMATCHED_ROUTE)


class RequestTelemetry:
    """Plain ASGI (streamed responses pass untouched): id, access line and metrics per request.

    `tag_span` (given only when tracing is on) puts the request id on the current span.
    """

    def __init__(self, app: ASGIApp, tag_span: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.tag_span = tag_span

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        with bound_request_id(headers.get(REQUEST_ID_HEADER.encode())) as request_id:
            if self.tag_span is not None:
                self.tag_span(request_id)
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
                return
            await self._measured(scope, receive, send)

    async def _measured(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, status = time.perf_counter(), 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            elapsed = time.perf_counter() - started
            method, route = scope["method"], route_of(scope)
            REQUESTS.labels(method, route, str(status)).inc()
            DURATION.labels(method, route).observe(elapsed)
            if route not in QUIET_ROUTES or status >= 400:
                log.info(
                    "request",
                    extra={"fields": {
                        "method": method, "route": route, "path": scope["path"],
                        "status": status, "duration_ms": round(elapsed * 1000, 2),
                    }},
                )  # fmt: skip
