"""The same events at a fixed rate to the same number of clients per method, measured."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from comms_sandbox import feed, proxy_log
from scenarios import narration
from scenarios.polling_and_push import verdicts
from scenarios.polling_and_push.crowd import Crowd, publish_paced
from scenarios.result import percentiles_ms

CLIENTS = 5  # per method
EVENTS = 40
RATE_PER_S = 10
POLL_INTERVAL_S = 1.0
SETTLE_S = 1.0  # clients connect before the first event
DELIVERY_TIMEOUT_S = 15


def method_metrics(
    receivers: list[feed.Receiver], expected: list[int], lines: list[dict[str, Any]]
) -> dict[str, Any]:
    """One method's figures: delays from the clients, wire costs from nginx's log."""
    if receivers[0].method == "grpc":  # one path for every watcher: gRPC has no query string
        seen = proxy_log.for_path(lines, "/sandbox.feed.v1.FeedService/Watch")
    else:
        seen = [line for rx in receivers for line in proxy_log.for_client(lines, rx.name)]
    delays = [d for rx in receivers for d in rx.delays_s]
    return {
        "clients": len(receivers),
        "delivered_all": verdicts.every_event_to_every_client(receivers, expected),
        "gaps": verdicts.gaps(receivers, expected),
        "delay_ms": percentiles_ms(delays),
        "requests": sum(rx.requests for rx in receivers),
        "empty_answers": sum(rx.empty for rx in receivers),
        "requests_at_proxy": len(seen),
        "bytes_at_proxy": proxy_log.wire_bytes(seen),
        "connections_at_proxy": proxy_log.connections(seen),
        "served_by": sorted({r for rx in receivers for r in rx.served_by}),
    }


async def run() -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:6]
    since = datetime.now(UTC).isoformat()
    crowd = Crowd()
    async with feed.http_client() as http:
        after = await feed.latest(http)
        for method in feed.METHODS:
            for index in range(CLIENTS):
                crowd.join(method, f"{run_id}-{method}-{index}", after, POLL_INTERVAL_S)
        narration.step(f"{CLIENTS} clients each: {', '.join(feed.METHODS)}")
        await asyncio.sleep(SETTLE_S)
        expected = await publish_paced(http, f"S{run_id}", EVENTS, RATE_PER_S)
        waited = await crowd.until_all_have(expected, DELIVERY_TIMEOUT_S)
        await crowd.close()
    with narration.waiting("nginx's log lines of the streams", proxy_log.FLUSH_S):
        await asyncio.sleep(proxy_log.FLUSH_S)  # streams' log lines come when they close
    lines = proxy_log.access_log(since)
    methods = {
        method: method_metrics(receivers, expected, lines)
        for method, receivers in crowd.by_method().items()
    }
    for method, measured in methods.items():
        narration.seen(f"{method}: delay p50 {measured['delay_ms']['p50']} ms, "
                       f"{measured['requests']} requests ({measured['empty_answers']} empty), "
                       f"{measured['bytes_at_proxy']} bytes at nginx")  # fmt: skip
    short, long_ = crowd.by_method()["short-poll"], crowd.by_method()["long-poll"]
    holds = {
        "every method delivered every event to every client": all(
            m["delivered_all"] for m in methods.values()
        ),
        "short polling's delay is bounded by one poll cycle": verdicts.short_poll_delay_bounded(
            [d for rx in short for d in rx.delays_s], [w for rx in short for w in rx.windows_s]
        ),
        "long polling's answers are almost never empty": verdicts.long_poll_rarely_empty(
            sum(rx.empty for rx in long_), len(long_)
        ),
    }
    return {
        "events": len(expected),
        "rate_per_s": RATE_PER_S,
        "clients_per_method": CLIENTS,
        "poll_interval_s": POLL_INTERVAL_S,
        # From a poll's request to the next one's answer: the interval and two requests.
        "poll_cycle_ms": percentiles_ms([w for rx in short for w in rx.windows_s]),
        "waited_for_delivery_s": waited,
        "methods": methods,
        "holds": holds,
    }
