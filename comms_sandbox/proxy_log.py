"""nginx's access log, read from the proxy container: one JSON object per request.

nginx writes a line when a request ends, so a WebSocket or an event stream
appears once it has closed, with every byte it carried. The log is buffered
(64 KiB or 1 s): wait FLUSH_S after the last request before reading.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from comms_sandbox.compose import compose

FLUSH_S = 1.5


def access_log(since: str) -> list[dict[str, Any]]:
    """The proxy's HTTP request lines since `since` (an RFC 3339 time or e.g. "2m")."""
    result = compose("logs", "--no-log-prefix", f"--since={since}", "proxy", capture=True)
    lines = []
    for line in result.stdout.splitlines():
        start = line.find('{"time"')  # past any terminal escape Compose puts first
        if start >= 0:
            entry = json.loads(line[start:])
            if "request" in entry:  # HTTP lines only, not the layer-4 (stream) ones
                lines.append(entry)
    return lines


def target(line: dict[str, Any]) -> str:
    """The request's path and query ("GET /feed/events?after=3 HTTP/1.1" -> its middle)."""
    parts = line["request"].split(" ")
    return parts[1] if len(parts) == 3 else ""


def for_client(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The lines of the requests labelled `name`: `client=<name>` in the query, or the
    X-Sandbox-Client header (which gRPC calls send as metadata)."""

    def labels(line: dict[str, Any]) -> list[str]:
        return [*parse_qs(urlsplit(target(line)).query).get("client", []), line.get("client")]

    return [line for line in lines if name in labels(line)]


def per_call(lines: list[dict[str, Any]]) -> dict[str, float]:
    """What one request cost on the wire, on average, as nginx counted it."""
    calls = max(len(lines), 1)
    return {
        "requests": len(lines),
        "request_bytes": round(sum(int(line["request_length"]) for line in lines) / calls, 1),
        "response_bytes": round(sum(int(line["bytes_sent"]) for line in lines) / calls, 1),
        "connections": connections(lines),
    }


def for_path(lines: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    return [line for line in lines if urlsplit(target(line)).path == path]


def wire_bytes(lines: list[dict[str, Any]]) -> int:
    """Bytes both ways as nginx counted them: requests (with headers) and responses."""
    return sum(int(line["request_length"]) + int(line["bytes_sent"]) for line in lines)


def connections(lines: list[dict[str, Any]]) -> int:
    """How many client connections carried these requests."""
    return len({line["connection"] for line in lines})


def client_ports(lines: list[dict[str, Any]]) -> int:
    """How many client sockets sent these requests: TCP connections, or QUIC connections,
    whose streams nginx numbers as connections of their own."""
    return len({line["remote_port"] for line in lines})
