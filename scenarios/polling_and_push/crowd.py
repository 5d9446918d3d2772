"""Many clients at once, each with its own connections, following the feed by one method."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
from feed.model import STATUSES

from comms_sandbox import config, feed
from scenarios import narration

Follow = Callable[[feed.Receiver, asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class Crowd:
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    receivers: list[feed.Receiver] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def by_method(self) -> dict[str, list[feed.Receiver]]:
        grouped: dict[str, list[feed.Receiver]] = {}
        for rx in self.receivers:
            grouped.setdefault(rx.method, []).append(rx)
        return grouped

    def join(self, method: str, name: str, after: int, poll_interval_s: float) -> None:
        """One more client, with an HTTP client of its own (like another browser)."""
        rx = feed.Receiver(method, name, after)
        http = feed.http_client()
        self.clients.append(http)
        followers: dict[str, Follow] = {
            "short-poll": lambda r, s: feed.short_poll(http, r, s, poll_interval_s),
            "long-poll": lambda r, s: feed.long_poll(http, r, s),
            "sse": lambda r, s: feed.sse(http, r, s),
            "websocket": lambda r, s: feed.websocket(r, s, config.tls_context()),
            "grpc": feed.grpc_watch,
        }
        self.receivers.append(rx)
        self.tasks.append(asyncio.create_task(followers[method](rx, self.stop)))

    async def until_all_have(self, expected: list[int], timeout_s: float) -> float:
        """Wait (bounded) until every client has every expected id; the seconds it took."""
        started = time.monotonic()
        wanted = set(expected)
        clients = len(self.receivers)
        with narration.waiting(f"all {len(wanted)} events at each of {clients} clients"):
            while time.monotonic() - started < timeout_s:
                if all(wanted <= set(rx.ids) for rx in self.receivers):
                    break
                await asyncio.sleep(0.05)
        waited = round(time.monotonic() - started, 2)
        have = sum(wanted <= set(rx.ids) for rx in self.receivers)
        narration.seen(f"{have} of {clients} clients have every event, {waited} s after the last")
        return waited

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for http in self.clients:
            await http.aclose()


async def publish_paced(
    http: httpx.AsyncClient, order_prefix: str, count: int, rate_per_s: float,
    on_each: Callable[[int], Coroutine[Any, Any, None]] | None = None,
) -> list[int]:  # fmt: skip
    """`count` events at a steady rate, each order moving through its statuses; their ids."""
    ids: list[int] = []
    started = time.perf_counter()
    with narration.load("order-status events published", count / rate_per_s, count) as counts:
        for index in range(count):
            await asyncio.sleep(max(0.0, index / rate_per_s - (time.perf_counter() - started)))
            order_id = f"{order_prefix}-{index // len(STATUSES)}"
            counts.advance(sent=1)
            try:
                event = await feed.publish(http, order_id, STATUSES[index % len(STATUSES)])
            except httpx.HTTPError:
                counts.advance(failed=1)
                continue  # a POST lost with a dying replica: the feed's own history decides
            counts.advance(answered=1)
            ids.append(event["id"])
            if on_each is not None:
                await on_each(index)
    return ids


async def feed_ids_after(http: httpx.AsyncClient, after: int) -> list[int]:
    """Every id the feed holds after `after`: what each client should have received."""
    ids: list[int] = []
    while True:
        response = await http.get("/feed/events", params={"after": after, "limit": 500})
        response.raise_for_status()
        page = [event["id"] for event in response.json()["events"]]
        if not page:
            return ids
        ids += page
        after = page[-1]
