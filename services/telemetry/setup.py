"""One call at a service's start: logs, traces and the metrics endpoint."""

from __future__ import annotations

import logging
import os

from prometheus_client import start_http_server

from telemetry.logs import configure_logging
from telemetry.tracing import configure_tracing

log = logging.getLogger("telemetry")


def setup(service: str) -> bool:
    """JSON logs, tracing (when configured) and /metrics; True when spans are exported.

    METRICS_PORT (compose sets 9464, never published) starts Prometheus's
    endpoint on its own port, so nginx never routes to it; unset, none starts.
    """
    configure_logging(service)
    tracing = configure_tracing(service)
    port = int(os.environ.get("METRICS_PORT") or 0)
    if port:
        start_http_server(port)
    log.info("telemetry ready", extra={"fields": {"tracing": tracing, "metrics_port": port}})
    return tracing
