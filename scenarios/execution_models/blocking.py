"""A blocking call inside an async handler stalls every request on its event loop.

Two loads at once on exec-async, for SECONDS: 2 connections calling an
endpoint that waits 100 ms, and 1 connection calling /fast, which answers at
once. When the wait is time.sleep inside an `async def` (/blocking), the
loop can run nothing else meanwhile: /fast's p99 rises to about the wait.
When the same call runs in a thread (/offloaded, asyncio.to_thread), the
loop goes on and /fast stays fast.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from comms_sandbox import wrk

SECONDS = 3
WAIT_MS = 100
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
        "moved to a thread, it does not (p99 at most a fifth of that)": (
            offloaded["fast_p99_ms"] * 5 <= blocking["fast_p99_ms"]
        ),
    }
