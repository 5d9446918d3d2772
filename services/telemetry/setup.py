"""One call at a service's start: logs, the metrics endpoint and, when switched on, traces.

Tracing is off unless SANDBOX_TRACING=on. The host turns it on while the
observability lesson's services run (comms_sandbox/compose.py's tracing_env)
and off otherwise. Off, not one OpenTelemetry module is imported: no tracer,
no instrumentation, nothing done per request. Log lines keep their request
id either way (telemetry/context.py); only their trace id needs tracing.
"""

from __future__ import annotations

import logging
import os

from prometheus_client import start_http_server

from telemetry.logs import TraceIds, configure_logging

log = logging.getLogger("telemetry")

TRACING_SWITCH = "SANDBOX_TRACING"
SWITCH_VALUES = ("on", "off")


def tracing_enabled() -> bool:
    """SANDBOX_TRACING=on, a Zipkin endpoint to send to, and the SDK not disabled.

    OTEL_SDK_DISABLED=true is OpenTelemetry's own switch; it still wins.
    Anything but on or off is refused: the service stops with the reason.
    """
    switch = os.environ.get(TRACING_SWITCH, "off").strip().lower() or "off"
    if switch not in SWITCH_VALUES:
        raise ValueError(f"{TRACING_SWITCH} must be one of {SWITCH_VALUES}, not {switch!r}")
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    endpoint = bool(os.environ.get("OTEL_EXPORTER_ZIPKIN_ENDPOINT"))
    return switch == "on" and endpoint and not disabled


def start_tracing(service: str) -> TraceIds:
    """Install the SDK's tracer provider; the function that puts trace ids in log lines.

    Imported here, not at the top: with tracing off the SDK is never loaded.
    """
    from telemetry import tracing  # noqa: PLC0415 - only when switched on

    tracing.configure_tracing(service)
    return tracing.current_trace_ids


def setup(service: str) -> bool:
    """JSON logs, tracing (when switched on) and /metrics; True when spans are exported.

    METRICS_PORT (compose sets 9464, never published) starts Prometheus's
    endpoint on its own port, so nginx never routes to it; unset, none starts.
    """
    tracing = tracing_enabled()
    configure_logging(service, start_tracing(service) if tracing else None)
    port = int(os.environ.get("METRICS_PORT") or 0)
    if port:
        start_http_server(port)
    log.info("telemetry ready", extra={"fields": {"tracing": tracing, "metrics_port": port}})
    return tracing
