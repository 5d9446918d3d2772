"""pricing's side of observability: each call's request id, its log line and its metrics.

The api sends its request id as `x-request-id` metadata; it is bound for the
call (log lines and, when tracing is on, the server span's `request.id` tag).
Calls are counted per method and status code, with their duration, on
:9464/metrics. With tracing off no OpenTelemetry module is loaded: the
instrumentation is imported by instrument_server(), called only when on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from prometheus_client import Counter, Histogram
from telemetry import REQUEST_ID_HEADER, bound_request_id

log = logging.getLogger("pricing.calls")

HANDLED = Counter(
    "grpc_server_handled", "gRPC calls finished by this pricing replica", ["method", "code"]
)
DURATION = Histogram(
    "grpc_server_handling_seconds",
    "Time from a call's start to its last message, per method",
    ["method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30),
)


TagSpan = Callable[[str], None]


def instrument_server() -> TagSpan:
    """Trace every call but the health checks (the api's /readyz asks every second);
    the function that tags a call's span with its request id.

    Call it before the server is made (the instrumentation adds its interceptor then),
    and only when tracing is on: the imports are here so that off, nothing is loaded.
    """
    from opentelemetry.instrumentation.grpc import (  # noqa: PLC0415
        GrpcInstrumentorServer,
        filters,
    )
    from telemetry.tracing import tag_current_span  # noqa: PLC0415

    GrpcInstrumentorServer(filter_=filters.negate(filters.health_check())).instrument()
    return tag_current_span


class CallTelemetry(grpc.ServerInterceptor):
    """Each call's request id bound, counted, timed and logged; `tag_span` (only given
    when tracing is on) tags the call's span with the request id."""

    def __init__(self, tag_span: TagSpan | None = None) -> None:
        self.tag_span = tag_span

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        if handler is None or details.method.startswith("/grpc.health."):
            return handler
        request_id = dict(details.invocation_metadata or ()).get(REQUEST_ID_HEADER)
        wrap = _measured_stream if handler.response_streaming else _measured
        kind = _HANDLER_KIND[(handler.request_streaming, handler.response_streaming)]
        factory, behavior = kind
        return factory(
            wrap(getattr(handler, behavior), details.method, request_id, self.tag_span),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


_HANDLER_KIND = {
    (False, False): (grpc.unary_unary_rpc_method_handler, "unary_unary"),
    (False, True): (grpc.unary_stream_rpc_method_handler, "unary_stream"),
    (True, False): (grpc.stream_unary_rpc_method_handler, "stream_unary"),
    (True, True): (grpc.stream_stream_rpc_method_handler, "stream_stream"),
}


def _measured(
    behavior: Callable, method: str, request_id: Any, tag_span: TagSpan | None
) -> Callable:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        with bound_request_id(request_id) as bound, _Call(method, context):
            if tag_span is not None:
                tag_span(bound)
            return behavior(request, context)

    return call


def _measured_stream(
    behavior: Callable, method: str, request_id: Any, tag_span: TagSpan | None
) -> Callable:
    def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        with bound_request_id(request_id) as bound, _Call(method, context):
            if tag_span is not None:
                tag_span(bound)
            yield from behavior(request, context)

    return call


class _Call:
    """Times one call; on exit counts it under its status code and logs one line."""

    def __init__(self, method: str, context: grpc.ServicerContext) -> None:
        self.method, self.context = method, context

    def __enter__(self) -> None:
        self.started = time.perf_counter()
        # The caller's deadline, as it arrived (grpc-timeout): None when it set none.
        remaining = self.context.time_remaining()
        self.deadline_ms = round(remaining * 1000) if remaining is not None else None

    def __exit__(self, exc_type: type | None, *_: object) -> None:
        elapsed = time.perf_counter() - self.started
        code = self.context.code() or (grpc.StatusCode.UNKNOWN if exc_type else grpc.StatusCode.OK)
        HANDLED.labels(self.method, code.name).inc()
        DURATION.labels(self.method).observe(elapsed)
        log.info(
            "call",
            extra={"fields": {
                "method": self.method, "code": code.name,
                "duration_ms": round(elapsed * 1000, 2), "deadline_ms": self.deadline_ms,
            }},
        )  # fmt: skip
