"""An adapter sidecar: the app's JSON access log, read from a shared volume, as Prometheus metrics.

The app only appends lines to a file. This process follows the file (like
`tail -F`, surviving rotation) and serves /metrics for Prometheus: requests
by path and status, and request durations. Neither knows the other's code.

    python -m adapter.log_metrics  (LOG_FILE, METRICS_PORT)
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from prometheus_client import Counter, Histogram, start_http_server

LOG_FILE = Path(os.environ.get("LOG_FILE", "/var/log/inventory/access.log"))
PORT = int(os.environ.get("METRICS_PORT", "9102"))
POLL_S = 0.2

REQUESTS = Counter("app_requests", "Requests the app logged", ["method", "route", "status"])
# Label values come from a bounded set, whatever clients send: route templates
# (never raw paths: /items/A, /items/B... would be a series each), the usual
# methods, status codes; anything else is grouped as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"
DURATION = Histogram("app_request_duration_seconds", "Request duration the app logged")
UNREADABLE = Counter("app_log_unreadable_lines", "Log lines that were not valid JSON")

log = logging.getLogger("log_metrics")


def record(line: str) -> None:
    try:
        entry = json.loads(line)
        REQUESTS.labels(*labels(entry)).inc()
        DURATION.observe(float(entry["duration_ms"]) / 1000)
    except (ValueError, KeyError, TypeError):
        UNREADABLE.inc()  # counted, never fatal: the app may write anything


def labels(entry: dict[str, object]) -> tuple[str, str, str]:
    method = entry["method"] if entry["method"] in METHODS else OTHER
    route = entry.get("route")
    route = route if isinstance(route, str) and len(route) <= 64 else OTHER
    status = entry["status"]
    status = str(status) if isinstance(status, int) and 100 <= status <= 599 else OTHER
    return str(method), route, status


def follow(path: Path) -> None:
    """Read new lines forever; reopen when the file is replaced or truncated."""
    position, inode = 0, None
    while True:
        try:
            stat = path.stat()
        except FileNotFoundError:
            time.sleep(POLL_S)
            continue
        if stat.st_ino != inode or stat.st_size < position:
            position, inode = 0, stat.st_ino
        with path.open(encoding="utf-8") as stream:
            stream.seek(position)
            for line in stream:
                if line.endswith("\n"):
                    record(line)
                    position += len(line.encode())
        time.sleep(POLL_S)


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    start_http_server(PORT)
    log.info("serving metrics on :%d for %s", PORT, LOG_FILE)
    follow(LOG_FILE)


if __name__ == "__main__":
    main()
