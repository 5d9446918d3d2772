"""Head-of-line blocking: one slow response in front of fast ones, on a single connection.

A slow request (/delay) goes first; SLOW_HEAD_START_S later, FAST more go on
the same connection. HTTP/1.1 carries one request at a time per connection,
so the fast ones wait until the slow one is done. HTTP/2 and HTTP/3 give each
request its own stream on the connection: the fast ones come back at once.

Not shown here: HTTP/2's other head-of-line blocking, in TCP. One lost
packet holds back every stream behind it until it is retransmitted; QUIC
orders each stream separately, so only the stream that lost data waits.
"""

from __future__ import annotations

import statistics
from typing import Any
from uuid import uuid4

from scenarios.http_versions.clients import RUNNERS

SLOW_MS = 800
FAST = 5
SLOW_HEAD_START_S = 0.05
CLIENTS = ("HTTP/1.1, 1 connection", "HTTP/2, 1 connection", "HTTP/3, 1 connection")


def run() -> dict[str, Any]:
    paths = [f"/delay?ms={SLOW_MS}"] + ["/whoami"] * FAST
    label = f"http-versions-hol-{uuid4().hex[:8]}"
    clients = {}
    for name in CLIENTS:
        outcomes = RUNNERS[name](label, paths, SLOW_HEAD_START_S)
        slow, fast = outcomes[0], outcomes[1:]
        clients[name] = {
            "slow_done_ms": round(slow.done_s * 1000, 1),
            "fast_done_ms": [round(o.done_s * 1000, 1) for o in fast],
            "fast_median_ms": round(statistics.median(o.done_s for o in fast) * 1000, 1),
            "statuses": sorted({o.status for o in outcomes}),
        }
    return {"slow_ms": SLOW_MS, "fast": FAST, "clients": clients, "holds": holds(clients)}


def holds(clients: dict[str, dict[str, Any]]) -> dict[str, bool]:
    """Blocked: the fast ones end after the slow one; not blocked: in well under half its time."""
    checks = {}
    for name, c in clients.items():
        blocked = min(c["fast_done_ms"]) >= c["slow_done_ms"] * 0.95
        if name.startswith("HTTP/1.1"):
            checks[f"{name}: the fast requests wait behind the slow one"] = blocked
        else:
            quick = max(c["fast_done_ms"]) < SLOW_MS / 2
            checks[f"{name}: the fast requests do not wait"] = quick and not blocked
        checks[f"{name}: every answer is 200"] = c["statuses"] == [200]
    return checks
