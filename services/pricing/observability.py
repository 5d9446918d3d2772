"""pricing's side of observability: each call's request id, its log line and its metrics.

The api sends its request id as `x-request-id` metadata; it is bound for the
call (log lines, the server span's `request.id` tag). Calls are counted per
method and status code, with their duration, on :9464/metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import GrpcInstrumentorServer, filters
from prometheus_client import Counter, Histogram
from telemetry import REQUEST_ID_HEADER, REQUEST_ID_TAG, bound_request_id

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


def instrument_server() -> None:
    """Trace every call but the health checks (the api's /readyz asks every second)."""
    GrpcInstrumentorServer(filter_=filters.negate(filters.health_check())).instrument()


class CallTelemetry(grpc.ServerInterceptor):
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
            wrap(getattr(handler, behavior), details.method, request_id),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


_HANDLER_KIND = {
    (False, False): (grpc.unary_unary_rpc_method_handler, "unary_unary"),
    (False, True): (grpc.unary_stream_rpc_method_handler, "unary_stream"),
    (True, False): (grpc.stream_unary_rpc_method_handler, "stream_unary"),
    (True, True): (grpc.stream_stream_rpc_method_handler, "stream_stream"),
}


def _measured(behavior: Callable, method: str, request_id: Any) -> Callable:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        with bound_request_id(request_id) as bound, _Call(method, bound, context):
            return behavior(request, context)

    return call


def _measured_stream(behavior: Callable, method: str, request_id: Any) -> Callable:
    def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        with bound_request_id(request_id) as bound, _Call(method, bound, context):
            yield from behavior(request, context)

    return call


class _Call:
    """Times one call; on exit counts it under its status code and logs one line."""

    def __init__(self, method: str, request_id: str, context: grpc.ServicerContext) -> None:
        self.method, self.context = method, context
        trace.get_current_span().set_attribute(REQUEST_ID_TAG, request_id)

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
