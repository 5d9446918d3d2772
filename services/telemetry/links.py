"""Span links from a message to the context that created it, with the OpenTelemetry API
only: a consumer imports this whether or not tracing is on (no SDK, no instrumentation).

The messaging semantic conventions say a process or receive span SHOULD link to the
creation context; the consumers keep it as the parent too (scenarios/observability).
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import propagate, trace
from opentelemetry.trace import Link


def creation_links(headers: Iterable[tuple[str, object]]) -> list[Link]:
    """A link to the creation context (the producer's span) a message's headers carry;
    none when they carry no valid W3C trace context."""
    carrier = {
        key: value.decode("ascii", errors="replace") if isinstance(value, bytes) else str(value)
        for key, value in headers
    }
    creation = trace.get_current_span(propagate.extract(carrier)).get_span_context()
    return [Link(creation)] if creation.is_valid else []
