"""Streaming clients lose their replica mid-stream: they reconnect elsewhere and resume."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

from comms_sandbox import docker, feed
from scenarios import narration
from scenarios.polling_and_push import verdicts
from scenarios.polling_and_push.crowd import Crowd, feed_ids_after, publish_paced

CLIENTS = 6  # per method: two per replica, round robin
EVENTS = 60
RATE_PER_S = 20
KILL_AFTER = 20  # events published before the kill
SETTLE_S = 1.0
DELIVERY_TIMEOUT_S = 20
METHODS = ("sse", "websocket")


def busiest(receivers: list[feed.Receiver]) -> str:
    """The replica (hostname) serving the most of these streams."""
    counts = Counter(next(iter(rx.served_by), "") for rx in receivers)
    return counts.most_common(1)[0][0]


async def run() -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:6]
    crowd = Crowd()
    killed: dict[str, str] = {}

    async def kill_once(index: int) -> None:
        if index + 1 == KILL_AFTER:
            hostname = busiest(crowd.receivers)
            killed["hostname"] = hostname
            killed["container"] = docker.names_by_hostname("api")[hostname]
            narration.step(f"SIGKILL to {killed['container']}, the replica serving the most "
                           f"streams, after {KILL_AFTER} events")  # fmt: skip
            docker.kill(killed["container"])

    async with feed.http_client() as http:
        after = await feed.latest(http)
        for method in METHODS:
            for index in range(CLIENTS):
                crowd.join(method, f"{run_id}-fo-{method}-{index}", after, 1.0)
        await asyncio.sleep(SETTLE_S)
        try:
            await publish_paced(http, f"F{run_id}", EVENTS, RATE_PER_S, on_each=kill_once)
            expected = await feed_ids_after(http, after)
            waited = await crowd.until_all_have(expected, DELIVERY_TIMEOUT_S)
        finally:
            await crowd.close()
            if "container" in killed:
                with narration.waiting(f"{killed['container']} started again and healthy", 10):
                    docker.start(killed["container"])
                    docker.wait_healthy(killed["container"])
    by_method = crowd.by_method()
    victim = killed.get("hostname", "?")
    holds = {
        f"{method}: resumed after the replica kill, 0 lost, 0 duplicates": (
            verdicts.resumed_after_the_kill(by_method[method], victim, expected)
        )
        for method in METHODS
    }
    return {
        "events": len(expected),
        "killed": killed,
        "waited_for_delivery_s": waited,
        "methods": {
            method: {
                "clients": len(receivers),
                "on_the_killed_replica": sum(victim in rx.served_by for rx in receivers),
                "reconnects": sum(rx.reconnects for rx in receivers),
                "gaps": verdicts.gaps(receivers, expected),
                "served_by_after": sorted({r for rx in receivers for r in rx.served_by}),
            }
            for method, receivers in by_method.items()
        },
        "holds": holds,
    }
