"""A bounded burst of HTTP requests, a few at a time, with what each one saw.

Scenarios describe requests as `Call`s and get back one `Exchange` per call,
timed from the start of the burst, with the evidence headers the proxy and
the replicas add (X-Served-By, X-Upstream-Addr, X-Request-ID).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from comms_sandbox import config
from scenarios import narration
from scenarios.result import percentiles_ms


@dataclass(frozen=True)
class Call:
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    # Send once more if the connection broke (only sensible for idempotent calls).
    retry_broken_connection: bool = False


@dataclass(frozen=True)
class Exchange:
    """One call and what came back; times are seconds since the burst began."""

    index: int  # position of the call in the burst
    method: str
    path: str
    status: int | None  # None: no response at all (connection error, timeout)
    started_s: float
    latency_s: float
    served_by: str | None
    upstream: str | None
    request_id: str | None
    body: Any = None
    error: str | None = None
    client_retry_after: str | None = None  # the broken connection the client retried after

    @property
    def ended_s(self) -> float:
        return self.started_s + self.latency_s

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400


class Progress:
    """How many calls of a running burst have finished, for code acting alongside it."""

    def __init__(self) -> None:
        self.done = 0
        self.started = time.perf_counter()

    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    async def reached(self, done: int) -> None:
        while self.done < done:
            await asyncio.sleep(0.01)


@dataclass(frozen=True)
class Burst:
    exchanges: list[Exchange]  # in call order
    duration_s: float

    def per_replica(self) -> Counter[str]:
        return Counter(e.served_by for e in self.exchanges if e.served_by)

    def failures(self, method: str | None = None) -> list[Exchange]:
        return [e for e in self.exchanges if not e.ok and method in (None, e.method)]

    def latency_ms(self) -> dict[str, float]:
        return percentiles_ms([e.latency_s for e in self.exchanges if e.status])


Alongside = Callable[[Progress], Awaitable[None]]


def burst(
    base_url: str,
    calls: Sequence[Call],
    concurrency: int,
    *,
    alongside: Alongside | None = None,
    rate_per_s: float | None = None,
    timeout_s: float = 15,
    name: str | None = None,
) -> Burst:
    """Send `calls` in order, at most `concurrency` in flight, on kept-alive connections.

    `rate_per_s` paces the starts (call N no earlier than N / rate seconds in),
    so a burst lasts long enough for something to happen during it.

    `alongside`, if given, runs concurrently with the burst (for example to
    kill a replica once N calls are done) and is awaited before returning.

    Narrated as a load named `name` (default: what it calls): sent, answered
    (a status below 400) and failed, against the seconds the pacing implies.
    """
    expected_s = len(calls) / rate_per_s if rate_per_s else None
    with narration.load(name or described(calls), expected_s, total=len(calls)) as counts:
        return asyncio.run(
            _burst(
                base_url, calls, concurrency,
                alongside=alongside, rate_per_s=rate_per_s, timeout_s=timeout_s, counts=counts,
            )
        )  # fmt: skip


def described(calls: Sequence[Call]) -> str:
    """A burst's name for the narration: its calls' method and path, or how many kinds."""
    kinds = sorted({f"{call.method} {call.path}" for call in calls})
    if not kinds:
        return "no calls"
    return kinds[0] if len(kinds) == 1 else f"{kinds[0]} and {len(kinds) - 1} more"


async def _burst(
    base_url: str,
    calls: Sequence[Call],
    concurrency: int,
    *,
    alongside: Alongside | None,
    rate_per_s: float | None,
    timeout_s: float,
    counts: narration.LoadHandle,
) -> Burst:
    progress = Progress()
    queue = list(reversed(list(enumerate(calls))))  # popped from the end: calls start in order
    results: list[Exchange] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=timeout_s, verify=config.tls_context()
    ) as client:

        async def worker() -> None:
            while queue:
                index, call = queue.pop()
                if rate_per_s:
                    await asyncio.sleep(index / rate_per_s - progress.elapsed_s())
                counts.advance(sent=1)
                exchange = await _send(client, index, call, progress.started)
                results.append(exchange)
                progress.done += 1
                counts.advance(answered=int(exchange.ok), failed=int(not exchange.ok))

        side = asyncio.create_task(alongside(progress)) if alongside else None
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        duration_s = progress.elapsed_s()
        if side:
            await side
    return Burst(sorted(results, key=lambda e: e.index), duration_s)


async def _send(client: httpx.AsyncClient, index: int, call: Call, t0: float) -> Exchange:
    started = time.perf_counter()
    broken: str | None = None

    def request() -> Awaitable[httpx.Response]:
        # The retry resends the whole request: method, headers and JSON body.
        return client.request(call.method, call.path, headers=call.headers, json=call.json)

    try:
        response = await request()
    except httpx.TransportError as exc:
        if not call.retry_broken_connection:
            return _failed(index, call, started, t0, exc)
        broken = f"{type(exc).__name__}: {exc}"
        try:
            response = await request()
        except httpx.HTTPError as again:
            return _failed(index, call, started, t0, again)
    except httpx.HTTPError as exc:
        return _failed(index, call, started, t0, exc)
    return Exchange(
        index=index,
        method=call.method,
        path=call.path,
        status=response.status_code,
        started_s=started - t0,
        latency_s=time.perf_counter() - started,
        served_by=response.headers.get("x-served-by"),
        upstream=response.headers.get("x-upstream-addr"),
        request_id=response.headers.get("x-request-id"),
        body=_json_or_none(response),
        client_retry_after=broken,
    )


def _failed(index: int, call: Call, started: float, t0: float, exc: Exception) -> Exchange:
    return Exchange(
        index, call.method, call.path, None, started - t0, time.perf_counter() - started,
        None, None, None, error=f"{type(exc).__name__}: {exc}",
    )  # fmt: skip


def _json_or_none(response: httpx.Response) -> Any:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        return response.json()
    except ValueError:
        return None
