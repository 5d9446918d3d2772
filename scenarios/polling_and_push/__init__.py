"""Polling and push: one event feed received five ways, side by side, across replicas.

An order's status changes (placed, paid, packed, shipped) are events in one
feed. They are appended through any api replica and kept in Redis: a short
history in a capped stream, and pub/sub to tell every replica at once. Each
client follows the feed through nginx by one method:

- short polling: "anything after id N?" every second; an unchanged feed
  costs a 304 (ETag), but the answer waits up to a whole interval;
- long polling: the same question, held by the server until there is news;
- server-sent events: one response that never ends, `id:` on each event, a
  reconnect that says Last-Event-ID and gets what it missed;
- WebSocket: subscribe with an id, receive events, ping both ways;
- gRPC server streaming: FeedService.Watch on the pricing replicas.

What to look at:
- delivery delay per method (publish to client): short polling waits for
  its interval, the others take milliseconds;
- requests, empty answers, bytes and connections, counted by nginx from its
  access log: polling pays per question, streams pay once per connection;
- memory per connected client on the api replicas (the kernel's count);
- one api replica killed under SSE and WebSocket clients: they reconnect to
  another replica (backoff with jitter) and resume from their last id, with 0
  events lost and 0 duplicates.
"""

from __future__ import annotations

import asyncio
from typing import Any

from comms_sandbox.health import require_proxy
from scenarios import narration
from scenarios.polling_and_push import failover, memory, side_by_side
from scenarios.polling_and_push.render import render
from scenarios.result import ScenarioResult, all_hold

NAME = "polling-and-push"
ORDER = 65  # place in the syllabus: after publish-subscribe
# What `make up LESSON=polling-and-push` starts: nginx, the api replicas and pricing
# (for gRPC), and Redis, the feed's backplane.
SERVICES = ("proxy", "redis")
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "services/feed/",
    "services/api/routes/feed.py",
    "services/api/static/feed.html",
    "services/protos/sandbox/feed/v1/feed.proto",
    "services/pricing/feed_service.py",
    "proxy/grpc.py",
    "proxy/nginx.conf",
    "images/redis/Dockerfile",
    "comms_sandbox/feed.py",
    "comms_sandbox/proxy_log.py",
    "tests/integration/test_polling_and_push_browser.py",
    "tests/unit/test_feed.py",
)

__all__ = ["NAME", "ORDER", "SERVICES", "render", "run"]


async def run_all() -> dict[str, Any]:
    parts = {"side_by_side": side_by_side.run, "memory": memory.run, "failover": failover.run}
    results = {}
    for name, part in parts.items():
        with narration.part(name):
            results[name] = await part()
    return results


def run() -> ScenarioResult:
    require_proxy()
    metrics = asyncio.run(run_all())
    metrics["checks"] = {
        **metrics["side_by_side"]["holds"],
        **metrics["failover"]["holds"],
    }
    return ScenarioResult(NAME, all_hold(metrics["checks"]), metrics)
