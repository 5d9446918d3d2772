"""Traces to Zipkin: batched, in the background, bounded, and never in a request's way.

The exporter posts batches from the SDK's own thread; a full queue drops
spans instead of waiting. When Zipkin is not running (the observability
profile is off, or the container is stopped) an export fails fast, one
warning a minute says so, and requests go on as before.
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

log = logging.getLogger("telemetry")

EXPORT_TIMEOUT_S = 2  # one batch's POST to Zipkin
MAX_QUEUED_SPANS = 2048  # beyond this, new spans are dropped, not waited for
EXPORT_EVERY_MS = 500  # a learner sees the trace half a second after the request
WARN_EVERY_S = 60.0


def tracing_enabled() -> bool:
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return not disabled and bool(os.environ.get("OTEL_EXPORTER_ZIPKIN_ENDPOINT"))


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


def configure_tracing(service: str) -> bool:
    """Install the SDK's tracer provider for SERVICE; False when tracing is off."""
    if not tracing_enabled():
        return False
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
    return True
