"""What a connected client costs a replica: api memory before and after opening streams."""

from __future__ import annotations

import asyncio
import statistics
import uuid
from typing import Any

from comms_sandbox import docker, feed
from scenarios import narration
from scenarios.polling_and_push.crowd import Crowd

CLIENTS = 100  # per streaming method, spread over the replicas by nginx
SETTLE_S = 2.0
SAMPLES = 3  # memory moves on its own (allocator, GC): the median of a few looks


def api_memory_mib() -> float:
    """The api replicas' memory together, the median of SAMPLES readings."""
    names = [c.name for c in docker.containers("api") if c.state == "running"]
    readings = [sum(docker.memory_mib(names).values()) for _ in range(SAMPLES)]
    return round(statistics.median(readings), 1)


async def cost_of(method: str, run_id: str) -> dict[str, Any]:
    crowd = Crowd()
    async with feed.http_client() as http:
        after = await feed.latest(http)
    before = api_memory_mib()
    narration.step(f"{CLIENTS} {method} clients connect; the api's memory before {before} MiB")
    for index in range(CLIENTS):
        crowd.join(method, f"{run_id}-mem-{method}-{index}", after, 1.0)
    await asyncio.sleep(SETTLE_S)
    connected = sum(rx.requests for rx in crowd.receivers)
    during = api_memory_mib()
    narration.seen(f"{connected} {method} clients connected: the api's memory {during} MiB")
    await crowd.close()
    return {
        "clients": CLIENTS,
        "connected": connected,
        "api_memory_before_mib": before,
        "api_memory_with_clients_mib": during,
        "kib_per_client": round((during - before) * 1024 / max(connected, 1), 1),
    }


async def run() -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:6]
    return {method: await cost_of(method, run_id) for method in ("sse", "websocket")}
