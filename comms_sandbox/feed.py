"""The order-status feed from the host: a client for each way of receiving it.

Each client follows the feed through nginx from an id on, until told to stop,
and records in a Receiver what it got and what it cost: every event id with
its delay (arrival minus the feed's published_at; host and containers share
one clock), the HTTP requests or connections it made, its empty answers, its
reconnects. Streaming clients reconnect by themselves after a drop, with
exponential backoff and jitter, and resume from the last id they received.
Every request carries `client=<name>` in its query, so the proxy's access log
can be read per client (bytes on the wire).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import websockets
from httpx_sse import aconnect_sse

from comms_sandbox import config, ports
from comms_sandbox.grpc import feed_pb2, feed_pb2_grpc

METHODS = ("short-poll", "long-poll", "sse", "websocket", "grpc")
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 2.0


@dataclass
class Receiver:
    """What one client received, and what it took."""

    method: str
    name: str
    after: int
    ids: list[int] = field(default_factory=list)
    delays_s: list[float] = field(default_factory=list)
    # Short polling only, one per event: from the previous poll's request to the
    # answer that brought it, the longest the event can have waited.
    windows_s: list[float] = field(default_factory=list)
    served_by: Counter[str] = field(default_factory=Counter)
    requests: int = 0  # HTTP requests, or connections for the streaming methods
    empty: int = 0  # answers that carried no event
    reconnects: int = 0  # streams re-opened after a drop
    errors: list[str] = field(default_factory=list)

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else self.after

    def record(
        self, event: dict[str, Any], served_by: str | None = None, at: float | None = None
    ) -> None:
        """An event received (`at`: when its answer came, if not now)."""
        self.ids.append(int(event["id"]))
        self.delays_s.append((at or time.time()) - float(event["published_at"]))
        if served_by:
            self.served_by[served_by] += 1

    def missing(self, expected: range) -> list[int]:
        return sorted(set(expected) - set(self.ids))

    def duplicates(self) -> int:
        return len(self.ids) - len(set(self.ids))


def http_client(**options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=config.proxy_url(), verify=config.tls_context(), timeout=40, **options
    )


async def publish(client: httpx.AsyncClient, order_id: str, status: str) -> dict[str, Any]:
    response = await client.post("/feed/events", json={"order_id": order_id, "status": status})
    response.raise_for_status()
    return response.json()


async def latest(client: httpx.AsyncClient, attempts: int = 3) -> int:
    """The feed's newest id; asked again (it is a GET) if a busy replica timed out."""
    for attempt in range(1, attempts + 1):
        response = await client.get("/feed/events", params={"after": 0, "limit": 1})
        if response.status_code < 500 or attempt == attempts:
            break
        await asyncio.sleep(0.5 * attempt)
    response.raise_for_status()
    return int(response.json()["latest"])


async def short_poll(
    client: httpx.AsyncClient, rx: Receiver, stop: asyncio.Event, interval_s: float = 1.0
) -> None:
    """Ask every interval_s: anything after my last id? With the last ETag, for a cheap 304.

    An event the previous poll did not bring was appended after that poll was
    sent, so it waited at most from then to this answer: rx.windows_s.
    """
    etag: str | None = None
    previous_ask = time.time()
    while not stop.is_set():
        headers = {"If-None-Match": etag} if etag else {}
        asked = time.time()
        response = await client.get(
            "/feed/events", params={"after": rx.last_id, "client": rx.name}, headers=headers
        )
        answered = time.time()
        rx.requests += 1
        etag = response.headers.get("etag", etag)
        events = response.json()["events"] if response.status_code == 200 else []
        rx.empty += not events
        for event in events:
            rx.record(event, response.headers.get("x-served-by"), at=answered)
            rx.windows_s.append(answered - previous_ask)
        previous_ask = asked
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


async def long_poll(
    client: httpx.AsyncClient, rx: Receiver, stop: asyncio.Event, hold_s: float = 25
) -> None:
    """Ask, be held until something newer exists (or hold_s passes), ask again at once."""
    while not stop.is_set():
        params = {"after": rx.last_id, "timeout_s": hold_s, "client": rx.name}
        request = asyncio.create_task(client.get("/feed/events/wait", params=params))
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({request, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if request not in done:
            request.cancel()
            stopped.cancel()
            return
        stopped.cancel()
        rx.requests += 1
        try:
            response = request.result()
        except httpx.TransportError as exc:  # the replica holding it died: ask again
            rx.errors.append(f"{type(exc).__name__}")
            continue
        if response.status_code != 200:
            rx.errors.append(f"HTTP {response.status_code}")
            await asyncio.sleep(0.2)
            continue
        events = response.json()["events"]
        rx.empty += not events
        for event in events:
            rx.record(event, response.headers.get("x-served-by"))


async def with_reconnects(
    rx: Receiver, stop: asyncio.Event, session: Callable[[], Awaitable[None]]
) -> None:
    """Run `session` until stopped; after each drop wait (backoff with jitter) and run it again."""
    backoff = BACKOFF_FIRST_S
    while not stop.is_set():
        received_before = len(rx.ids)
        task = asyncio.create_task(session())
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if task not in done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            return
        stopped.cancel()
        error = task.exception()
        rx.errors.append(type(error).__name__ if error else "closed by the server")
        rx.reconnects += 1
        if len(rx.ids) > received_before:
            backoff = BACKOFF_FIRST_S  # it worked for a while: start over
        await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
        backoff = min(backoff * 2, BACKOFF_MAX_S)


async def sse(client: httpx.AsyncClient, rx: Receiver, stop: asyncio.Event) -> None:
    """An event stream; on a drop, reconnect with Last-Event-ID, as EventSource does."""

    async def session() -> None:
        headers = {"Last-Event-ID": str(rx.last_id)}
        params = {"client": rx.name}
        async with aconnect_sse(client, "GET", "/feed/stream", params=params, headers=headers) as s:
            rx.requests += 1
            s.response.raise_for_status()
            served_by = s.response.headers.get("x-served-by")
            async for message in s.aiter_sse():
                if message.event == "order-status":
                    rx.record(json.loads(message.data), served_by)
                elif message.event == "overflow":
                    return

    await with_reconnects(rx, stop, session)


def websocket_url(name: str) -> str:
    return f"wss://{ports.HOST}:{ports.PROXY_TLS.port}/feed/ws?client={name}"


async def websocket(rx: Receiver, stop: asyncio.Event, context: ssl.SSLContext) -> None:
    """Subscribe with the last id; on a close or a drop, reconnect and subscribe again."""

    async def session() -> None:
        async with websockets.connect(
            websocket_url(rx.name), ssl=context, server_hostname="localhost",
            ping_interval=15, max_size=2**16,
        ) as ws:  # fmt: skip
            rx.requests += 1
            served_by = None
            await ws.send(json.dumps({"type": "subscribe", "after": rx.last_id}))
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "subscribed":
                    served_by = message["served_by"]
                elif message["type"] == "event":
                    rx.record(message["event"], served_by)
                elif message["type"] == "error":
                    rx.errors.append(message["reason"])

    await with_reconnects(rx, stop, session)


async def grpc_watch(rx: Receiver, stop: asyncio.Event) -> None:
    """FeedService.Watch through nginx; on a drop, watch again from the last id."""
    credentials = grpc.ssl_channel_credentials(config.ca_cert().read_bytes())
    target = f"{ports.HOST}:{ports.PROXY_TLS.port}"
    options = [("grpc.ssl_target_name_override", "localhost")]

    async def session() -> None:
        async with grpc.aio.secure_channel(target, credentials, options=options) as channel:
            rx.requests += 1
            call = feed_pb2_grpc.FeedServiceStub(channel).Watch(
                feed_pb2.WatchRequest(after=rx.last_id)
            )
            async for event in call:
                rx.record({"id": event.id, "published_at": event.published_at}, event.served_by)

    await with_reconnects(rx, stop, session)
