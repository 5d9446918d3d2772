"""Polling and push under load: delivery delay per method, and one replica's fan-out rate.

- Delay: for each method alone, CLIENTS clients follow the feed while EVENTS
  events are published at RATE_PER_S; p50/p99 of publish-to-client delay.
  gRPC gets as many clients as pricing takes watchers (4 per replica).
- Fan-out: the api scaled to one replica; FANOUT_CLIENTS WebSocket (then
  SSE) clients; FANOUT_EVENTS events published as fast as the proxy takes
  them; messages delivered per second, from the first publish until every
  client has every event. Rounds interleave WebSocket and SSE; medians.
Clients, proxy and replica share the machine's cores, so the client side
costs too: compare the methods with each other, in the same run.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

import httpx
from rich.table import Table

from bench.support.narrate import Verdict, measuring
from bench.support.report import right_aligned
from comms_sandbox import docker, feed
from comms_sandbox.compose import compose_file
from pricing.feed_service import MAX_WATCHERS
from proxy.load_balancing import REPLICAS
from scenarios.polling_and_push.crowd import Crowd, publish_paced
from scenarios.result import percentiles_ms

NAME = "polling-and-push"  # python -m bench polling-and-push
LESSON = "polling-and-push"

CLIENTS = 50
EVENTS = 500
RATE_PER_S = 100
FANOUT_CLIENTS = 50
FANOUT_EVENTS = 200
FANOUT_IN_FLIGHT = 8
ROUNDS = 3
TIMEOUT_S = 60
TARGET_P99_MS = 50.0
TARGET_WS_VS_SSE = 0.5


def clients_for(method: str) -> int:
    """CLIENTS, but no more gRPC watchers than the pricing replicas take (the rest would wait)."""
    if method != "grpc":
        return CLIENTS
    replicas = compose_file()["services"]["pricing"]["deploy"]["replicas"]
    return min(CLIENTS, MAX_WATCHERS * replicas)


async def delay_of(method: str) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:6]
    crowd = Crowd()
    clients = clients_for(method)
    async with feed.http_client() as http:
        after = await feed.latest(http)
        for index in range(clients):
            crowd.join(method, f"{run_id}-bench-{method}-{index}", after, 1.0)
        await asyncio.sleep(2)
        expected = await publish_paced(http, f"B{run_id}", EVENTS, RATE_PER_S)
        await crowd.until_all_have(expected, TIMEOUT_S)
    await crowd.close()
    delays = [d for rx in crowd.receivers for d in rx.delays_s]
    delivered = sum(len(set(rx.ids) & set(expected)) for rx in crowd.receivers)
    return {"clients": clients, "delay_ms": percentiles_ms(delays), "delivered": delivered,
            "expected": len(expected) * clients}  # fmt: skip


async def publish_fast(http: httpx.AsyncClient, count: int) -> list[int]:
    queue = iter(range(count))
    ids: list[int] = []

    async def worker() -> None:
        for index in queue:
            ids.append((await feed.publish(http, f"X-{index}", "paid"))["id"])

    await asyncio.gather(*(worker() for _ in range(FANOUT_IN_FLIGHT)))
    return sorted(ids)


async def fanout_of(method: str) -> float:
    """Messages per second one replica delivered to FANOUT_CLIENTS clients."""
    run_id = uuid.uuid4().hex[:6]
    crowd = Crowd()
    async with feed.http_client() as http:
        after = await feed.latest(http)
        for index in range(FANOUT_CLIENTS):
            crowd.join(method, f"{run_id}-fan-{method}-{index}", after, 1.0)
        await asyncio.sleep(2)
        started = time.perf_counter()
        expected = await publish_fast(http, FANOUT_EVENTS)
        await crowd.until_all_have(expected, TIMEOUT_S)
        elapsed = time.perf_counter() - started
    await crowd.close()
    delivered = sum(len(set(rx.ids) & set(expected)) for rx in crowd.receivers)
    return round(delivered / elapsed, 1)


async def measure() -> dict[str, Any]:
    delays = {method: await delay_of(method) for method in feed.METHODS}
    docker.scale("api", 1)
    try:
        rounds: dict[str, list[float]] = {"websocket": [], "sse": []}
        for round_ in range(1, ROUNDS + 1):
            for method, values in rounds.items():
                with measuring(f"fan-out over {method}", round_, ROUNDS):
                    values.append(await fanout_of(method))
                    await asyncio.sleep(2)  # let the lone replica finish with the last crowd
    finally:
        docker.scale("api", REPLICAS)
    fanout = {method: statistics.median(values) for method, values in rounds.items()}
    return {"delays": delays, "fanout_msgs_per_s": fanout, "fanout_rounds": rounds}


def run() -> dict[str, Any]:
    result = asyncio.run(measure())
    fanout = result["fanout_msgs_per_s"]
    return {
        "benchmark": NAME,
        "tool": f"{CLIENTS} clients per method, {EVENTS} events at {RATE_PER_S}/s; fan-out: "
        f"{FANOUT_CLIENTS} clients, {FANOUT_EVENTS} events, 1 replica, {ROUNDS} rounds",
        **result,
        "target_p99_ms": TARGET_P99_MS,
        "websocket_vs_sse_fanout": round(fanout["websocket"] / fanout["sse"], 2),
        "target_websocket_vs_sse": TARGET_WS_VS_SSE,
    }


def verdicts(result: dict[str, Any]) -> list[Verdict]:
    target = result["target_websocket_vs_sse"]
    ratio = result["websocket_vs_sse_fanout"]
    return [Verdict(f"websocket / sse fan-out >= {target}", ratio >= target, f"{ratio:.2f}")]


def tables(result: dict[str, Any]) -> list[Table]:
    delays = right_aligned(
        f"delivery delay: {result['tool'].split(';')[0]}",
        "method", "clients", "delivered", "p50 (ms)", "p99 (ms)", "p99 / target",
    )  # fmt: skip
    for method, m in result["delays"].items():
        delays.add_row(
            method, str(m["clients"]), f"{m['delivered']}/{m['expected']}",
            f"{m['delay_ms']['p50']:.1f}", f"{m['delay_ms']['p99']:.1f}",
            f"{m['delay_ms']['p99'] / result['target_p99_ms']:.2f}",
        )  # fmt: skip
    fanout = right_aligned("fan-out from one replica (medians)", "method", "messages/s")
    for method, rate in result["fanout_msgs_per_s"].items():
        fanout.add_row(method, f"{rate:,.0f}")
    fanout.add_row(
        "websocket / sse",
        f"{result['websocket_vs_sse_fanout']:.2f} (target >= {result['target_websocket_vs_sse']})",
    )
    return [delays, fanout]
