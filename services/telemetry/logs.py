"""JSON log lines on stdout, each with the service, the request id and the trace id.

One JSON object per line: `docker compose logs` stays readable, and a tool
(or the observability scenario) can filter one request's lines by its id.
json.dumps escapes what a client sent (quotes, newlines, control characters),
so no value can forge a second log line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from telemetry.context import current_request_id

# Libraries that log a line per connection attempt: their warnings are enough.
QUIET_LOGGERS = ("aiokafka", "kafka", "pika", "urllib3", "opentelemetry.sdk")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id.get() or None,
            **_trace_ids(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _trace_ids() -> dict[str, str | None]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {"trace_id": None, "span_id": None}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def configure_logging(service: str, level: int = logging.INFO) -> None:
    """Every logger writes JSON to stdout through the root logger (uvicorn's included)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter(service))
        root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # The api writes its own access line, with the request id and the route.
    logging.getLogger("uvicorn.access").disabled = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
