"""Span links from a message to the context that created it, with the OpenTelemetry API
only: a consumer imports this whether or not tracing is on (no SDK, no instrumentation).

The messaging semantic conventions say a process or receive span SHOULD link to the
creation context; the consumers keep it as the parent too (scenarios/observability).
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import propagate, trace
from opentelemetry.trace import Link

from telemetry.context import REQUEST_ID_HEADER, current_request_id


def context_headers() -> dict[str, str]:
    """The request id and the current W3C trace context, as message headers.

    For a message someone else sends later: the outbox relay publishes an
    order's event after the api's request has ended, under these headers, so
    its spans and the consumers' join the request that placed the order. With
    tracing off there is no current span and only the request id is there.
    """
    headers: dict[str, str] = {}
    if request_id := current_request_id.get():
        headers[REQUEST_ID_HEADER] = request_id
    propagate.inject(headers)
    return headers


def creation_links(headers: Iterable[tuple[str, object]]) -> list[Link]:
    """A link to the creation context (the producer's span) a message's headers carry;
    none when they carry no valid W3C trace context."""
    carrier = {
        key: value.decode("ascii", errors="replace") if isinstance(value, bytes) else str(value)
        for key, value in headers
    }
    creation = trace.get_current_span(propagate.extract(carrier)).get_span_context()
    return [Link(creation)] if creation.is_valid else []
