"""A blocking call inside an async handler stalls every request on its event loop.

Two loads at once on exec-async, for SECONDS: 2 connections calling an
endpoint that waits 100 ms, and 1 connection calling /fast, which answers at
once. When the wait is time.sleep inside an `async def` (/blocking), the
loop can run nothing else meanwhile: /fast's p99 rises to about the wait,
and it gets a few answers per wait. When the same call runs in a thread
(/offloaded, asyncio.to_thread), the loop goes on and /fast stays fast.

Judged by how often /fast was answered (its one connection asks again at
once, so that is one over its mean latency): the blocked loop is held by
the sleeps whatever the CPU, while a free one answers hundreds to thousands
a second even sharing its core. /fast's p99 beside /offloaded is reported,
not judged: on a machine whose cores other work holds, the loop waits for
the CPU, and that p99 rises with it (79 ms seen with `stress-ng --cpu 1`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from comms_sandbox import wrk

SECONDS = 3
WAIT_MS = 100
FREED = 10  # /fast's answers with the wait in a thread, over those with it on the loop: 100+ seen
URL = "http://exec-async:8000"


def fast_p99_during(slow_path: str) -> dict[str, Any]:
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(wrk.wrk, f"{URL}{slow_path}?ms={WAIT_MS}", seconds=SECONDS,
                           connections=2, threads=1, cpus="0,1")  # fmt: skip
        fast = pool.submit(wrk.wrk, f"{URL}/fast", seconds=SECONDS, connections=1, threads=1,
                           cpus="0,1")  # fmt: skip
        slow_load, fast_load = slow.result(), fast.result()
    return {
        "fast_p50_ms": round(fast_load.p50_ms, 2),
        "fast_p99_ms": round(fast_load.p99_ms, 2),
        "fast_per_s": fast_load.requests_per_s,
        "slow_per_s": slow_load.requests_per_s,
    }


def run() -> dict[str, Any]:
    wrk.build_image()
    calls = {
        "time.sleep in async def (/blocking)": fast_p99_during("/blocking"),
        "the same in a thread (/offloaded)": fast_p99_during("/offloaded"),
    }
    return {"wait_ms": WAIT_MS, "calls": calls, "holds": holds(calls)}


def holds(calls: dict[str, dict[str, Any]]) -> dict[str, bool]:
    blocking, offloaded = calls.values()
    return {
        "a blocking call raises the fast request's p99 to about its wait": (
            blocking["fast_p99_ms"] >= WAIT_MS / 2
        ),
        f"moved to a thread, it does not: /fast is answered at least {FREED}x as often": (
            offloaded["fast_per_s"] >= FREED * blocking["fast_per_s"]
        ),
    }
