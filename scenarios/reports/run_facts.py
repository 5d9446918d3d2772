"""When and where a run happened: kept beside its result (run.json), shown in its report."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from typing import Any


def facts(started: float, finished: float | None = None) -> dict[str, Any]:
    """The run's times (epoch seconds in, ISO 8601 UTC out) and the machine it ran on.

    The load average is read at the end: its 1-minute figure covers most runs, and a
    busy machine explains a slow one (and the checks it could not show).
    """
    finished = time.time() if finished is None else finished
    return {
        "started": iso(started),
        "finished": iso(finished),
        "duration_s": round(finished - started, 1),
        "hostname": socket.gethostname(),
        "cores": os.cpu_count(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds")


def shown_time(value: str) -> str:
    """An ISO time as "2026-12-06 12:45:21 UTC"."""
    return value.replace("T", " ").replace("+00:00", " UTC")
