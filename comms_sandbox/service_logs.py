"""The Python services' JSON log lines (services/telemetry/logs.py), read through Compose."""

from __future__ import annotations

import json
from typing import Any

from comms_sandbox.compose import compose


def json_lines(services: list[str], since: str) -> list[dict[str, Any]]:
    """Every JSON log line of `services` (all replicas) since `since` (RFC 3339 or "2m")."""
    result = compose("logs", "--no-log-prefix", "--no-color", f"--since={since}", *services,
                     capture=True)  # fmt: skip
    lines = []
    for line in result.stdout.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            entry = json.loads(line[start:])
        except json.JSONDecodeError:
            continue  # a line that is not one of ours (a library printing directly)
        if isinstance(entry, dict) and "service" in entry:
            lines.append(entry)
    return lines


def for_request(lines: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("request_id") == request_id]
