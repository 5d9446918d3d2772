"""JSON log lines on stdout, each with the service, the request id and (when tracing) the trace id.

One JSON object per line: `docker compose logs` stays readable, and a tool
(or the observability scenario) can filter one request's lines by its id.
json.dumps escapes what a client sent (quotes, newlines, control characters),
so no value can forge a second log line.

The request id needs nothing but telemetry/context.py. The trace and span
ids come from a function telemetry/setup.py hands over only when tracing is
on (telemetry.tracing.current_trace_ids); off, they are null and no
OpenTelemetry module is loaded.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from telemetry.context import current_request_id

# The current span's ids, {"trace_id": ..., "span_id": ...}, as hex or None.
TraceIds = Callable[[], dict[str, str | None]]

# Libraries that log a line per connection attempt: their warnings are enough.
QUIET_LOGGERS = ("aiokafka", "kafka", "pika", "urllib3", "opentelemetry.sdk")


def no_trace_ids() -> dict[str, str | None]:
    return {"trace_id": None, "span_id": None}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, trace_ids: TraceIds | None = None) -> None:
        super().__init__()
        self.service = service
        self.trace_ids = trace_ids or no_trace_ids

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id.get() or None,
            **self.trace_ids(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(
    service: str, trace_ids: TraceIds | None = None, level: int = logging.INFO
) -> None:
    """Every logger writes JSON to stdout through the root logger (uvicorn's included)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter(service, trace_ids))
        root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # The api writes its own access line, with the request id and the route.
    logging.getLogger("uvicorn.access").disabled = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
