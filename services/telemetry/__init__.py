"""What every Python service shares to be observable: one request id, JSON logs, traces, metrics.

    telemetry.setup("pricing")   # JSON logs on stdout, /metrics on :9464, traces when on

Settings are environment variables, the standard OpenTelemetry ones where
they exist: SANDBOX_TRACING=on|off (off by default; the host turns it on
while the observability lesson runs), OTEL_EXPORTER_ZIPKIN_ENDPOINT (no
endpoint: no tracing), OTEL_SDK_DISABLED=true (OpenTelemetry's own off
switch, still honoured), OTEL_TRACES_SAMPLER(_ARG), METRICS_PORT. With
tracing off no OpenTelemetry module is imported (telemetry/setup.py).
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
