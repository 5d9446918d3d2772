"""What every Python service shares to be observable: one request id, JSON logs, traces, metrics.

    telemetry.setup("pricing")   # JSON logs on stdout, traces to Zipkin, /metrics on :9464

Settings are environment variables, the standard OpenTelemetry ones where
they exist: OTEL_EXPORTER_ZIPKIN_ENDPOINT (no endpoint: no tracing),
OTEL_SDK_DISABLED=true (tracing off, for the benchmark), METRICS_PORT.
"""

from telemetry.context import (
    REQUEST_ID_HEADER,
    REQUEST_ID_TAG,
    bound_request_id,
    checked_request_id,
    current_request_id,
)
from telemetry.setup import setup

__all__ = [
    "REQUEST_ID_HEADER",
    "REQUEST_ID_TAG",
    "bound_request_id",
    "checked_request_id",
    "current_request_id",
    "setup",
]
