"""Traces to Zipkin: batched, in the background, bounded, and never in a request's way.

Imported only when tracing is switched on (telemetry/setup.py): this module
loads the SDK, and the services load their instrumentations after it.

The exporter posts batches from the SDK's own thread; a full queue drops
spans instead of waiting. When Zipkin is not running (stopped during the
lesson, or tracing forced on without it) an export fails fast, one warning
a minute says so, and requests go on as before.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

import requests
from opentelemetry import trace
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from telemetry.context import REQUEST_ID_TAG

log = logging.getLogger("telemetry")

EXPORT_TIMEOUT_S = 2  # one batch's POST to Zipkin
MAX_QUEUED_SPANS = 2048  # beyond this, new spans are dropped, not waited for
EXPORT_EVERY_MS = 500  # a learner sees the trace half a second after the request
WARN_EVERY_S = 60.0


class QuietExporter(SpanExporter):
    """Zipkin's exporter, with an unreachable backend reported once a minute, not per batch."""

    def __init__(self, exporter: SpanExporter, endpoint: str) -> None:
        self.exporter, self.endpoint = exporter, endpoint
        self._warned_at = -WARN_EVERY_S

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            return self.exporter.export(spans)
        except requests.RequestException as exc:
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY_S:
                self._warned_at = now
                log.warning(
                    "trace backend unreachable, spans dropped",
                    extra={"fields": {"endpoint": self.endpoint, "reason": type(exc).__name__}},
                )
            return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.exporter.shutdown()


def configure_tracing(service: str) -> None:
    """Install the SDK's tracer provider for SERVICE, exporting to OTEL_EXPORTER_ZIPKIN_ENDPOINT."""
    endpoint = os.environ["OTEL_EXPORTER_ZIPKIN_ENDPOINT"]
    exporter = QuietExporter(ZipkinExporter(endpoint=endpoint, timeout=EXPORT_TIMEOUT_S), endpoint)
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(
        BatchSpanProcessor(
            exporter,
            max_queue_size=MAX_QUEUED_SPANS,
            schedule_delay_millis=EXPORT_EVERY_MS,
            export_timeout_millis=EXPORT_TIMEOUT_S * 1000,
        )
    )
    trace.set_tracer_provider(provider)


def current_trace_ids() -> dict[str, str | None]:
    """The current span's trace and span ids as hex, for log lines; None outside a span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {"trace_id": None, "span_id": None}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def tag_current_span(request_id: str) -> None:
    """The request id as the current span's `request.id` tag: how Zipkin finds the trace."""
    trace.get_current_span().set_attribute(REQUEST_ID_TAG, request_id)
