"""What the proxy costs, and what replicas buy: wrk from inside the network, one run.

Each round measures every configuration once; the report gives medians.

- proxy overhead: with one api replica, the same load straight at the replica
  and through nginx. On a machine with 2+ cores the
  replica gets a core of its own and wrk and nginx share another, so the
  proxy's CPU is not taken from the replica it measures; target: under 10%
  fewer requests/s through the proxy.
- scaling: the same load through nginx to 3 replicas versus 1, unpinned. On a
  2-core machine the replicas share the cores with nginx and wrk, so expect
  far less than 3x for a CPU-bound endpoint.
"""

from __future__ import annotations

import os
import statistics
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from rich.table import Table

from bench.support.narrate import Verdict, measuring
from bench.support.report import right_aligned
from comms_sandbox import docker
from comms_sandbox.wrk import Load, build_image, wrk
from proxy import load_balancing as lb
from proxy.site import INTERNAL_PORT

NAME = "load-balancing"  # python -m bench load-balancing
LESSON = "load-balancing"

SECONDS = 8
CONNECTIONS = 16
ROUNDS = 3
TARGET_OVERHEAD = 0.10
ROUND_S = 4 * (SECONDS + 3)  # four wrk runs, and scaling between them
ENDPOINT = "/whoami"
PROXY_URL = f"http://proxy:{INTERNAL_PORT}{ENDPOINT}"  # plain HTTP, like DIRECT_URL
DIRECT_URL = f"http://{lb.replica_name(1)}:{lb.API_PORT}{ENDPOINT}"
PROXY_CONTAINER = f"{lb.COMPOSE_PROJECT}-proxy-1"
CLIENT_CPU, REPLICA_CPU = "0", "1"


def expected_s() -> float:
    return ROUNDS * ROUND_S


def verdicts(result: dict[str, Any]) -> list[Verdict]:
    return [Verdict(f"nginx's overhead under {result['target_overhead']:.0%}",
                    result["proxy_overhead"] < result["target_overhead"],
                    f"{result['proxy_overhead']:.0%} fewer requests/s than direct")]  # fmt: skip


def median_load(loads: list[Load]) -> dict[str, float]:
    return {
        field: round(statistics.median(asdict(load)[field] for load in loads), 2)
        for field in ("requests_per_s", "p50_ms", "p99_ms", "errors")
    }


def measure(url: str, cpus: str | None = None) -> Load:
    return wrk(url, seconds=SECONDS, connections=CONNECTIONS, cpus=cpus)


def set_cpus(container: str, cpus: str) -> None:
    subprocess.run(["docker", "update", f"--cpuset-cpus={cpus}", container],
                   check=True, capture_output=True)  # fmt: skip


@contextmanager
def replica_on_its_own_core() -> Iterator[str | None]:
    """Pin the replica to one core, nginx to the other (wrk joins it); yields wrk's cpuset."""
    if (os.cpu_count() or 1) < 2:
        yield None
        return
    every_cpu = f"0-{(os.cpu_count() or 1) - 1}"
    set_cpus(lb.replica_name(1), REPLICA_CPU)
    set_cpus(PROXY_CONTAINER, CLIENT_CPU)
    try:
        yield CLIENT_CPU
    finally:
        set_cpus(lb.replica_name(1), every_cpu)
        set_cpus(PROXY_CONTAINER, every_cpu)


def one_round(runs: dict[str, list[Load]]) -> None:
    """Every configuration once: shared machines drift, so rounds interleave them."""
    docker.scale("api", 1)
    with replica_on_its_own_core() as client_cpus:
        runs["direct_1_pinned"].append(measure(DIRECT_URL, client_cpus))
        runs["proxy_1_pinned"].append(measure(PROXY_URL, client_cpus))
    runs["proxy_1"].append(measure(PROXY_URL))
    docker.scale("api", lb.REPLICAS)
    runs["proxy_3"].append(measure(PROXY_URL))


def run() -> dict[str, Any]:
    build_image()  # loadgen, on its base, before any timing
    runs: dict[str, list[Load]] = {"direct_1_pinned": [], "proxy_1_pinned": [], "proxy_1": [],
                                   "proxy_3": []}  # fmt: skip
    try:
        for round_ in range(1, ROUNDS + 1):
            with measuring("direct and through nginx, 1 and 3 replicas", round_, ROUNDS,
                           ROUND_S):  # fmt: skip
                one_round(runs)
    finally:
        docker.scale("api", lb.REPLICAS)
    direct_1, proxy_1_pinned = (
        median_load(runs["direct_1_pinned"]),
        median_load(runs["proxy_1_pinned"]),
    )
    proxy_1, proxy_3 = median_load(runs["proxy_1"]), median_load(runs["proxy_3"])
    throughput_ratio = proxy_1_pinned["requests_per_s"] / direct_1["requests_per_s"]
    return {
        "tool": f"wrk, {CONNECTIONS} connections, {SECONDS} s x {ROUNDS} rounds, GET {ENDPOINT}",
        "direct_1_replica_pinned": direct_1,
        "proxy_1_replica_pinned": proxy_1_pinned,
        "proxy_1_replica": proxy_1,
        "proxy_3_replicas": proxy_3,
        "proxy_vs_direct_rps": round(throughput_ratio, 3),
        "proxy_vs_direct_p99": round(proxy_1_pinned["p99_ms"] / direct_1["p99_ms"], 3),
        "proxy_overhead": round(1 - throughput_ratio, 3),
        "target_overhead": TARGET_OVERHEAD,
        "three_vs_one_replica_rps": round(proxy_3["requests_per_s"] / proxy_1["requests_per_s"], 3),
        "three_vs_one_replica_p99": round(proxy_3["p99_ms"] / proxy_1["p99_ms"], 3),
    }


def tables(result: dict[str, Any]) -> list[Table]:
    runs = right_aligned(
        f"load balancing: {result['tool']} (medians)",
        *("path", "requests/s", "p50 (ms)", "p99 (ms)", "errors"),
    )
    for label, key in (
        ("straight to 1 replica (pinned)", "direct_1_replica_pinned"),
        ("nginx -> 1 replica (pinned)", "proxy_1_replica_pinned"),
        ("nginx -> 1 replica", "proxy_1_replica"),
        ("nginx -> 3 replicas", "proxy_3_replicas"),
    ):
        m = result[key]
        runs.add_row(label, f"{m['requests_per_s']:.0f}", f"{m['p50_ms']:.1f}",
                     f"{m['p99_ms']:.1f}", f"{m['errors']:.0f}")  # fmt: skip
    ratios = right_aligned("ratios, same run", "ratio", "requests/s", "p99", "target")
    ratios.add_row(
        "nginx / direct (1 replica)",
        f"{result['proxy_vs_direct_rps']:.2f}",
        f"{result['proxy_vs_direct_p99']:.2f}",
        f"overhead {result['proxy_overhead']:.0%} (target < {result['target_overhead']:.0%})",
    )
    ratios.add_row(
        "3 replicas / 1 replica (nginx)",
        f"{result['three_vs_one_replica_rps']:.2f}",
        f"{result['three_vs_one_replica_p99']:.2f}",
        "-",
    )
    return [runs, ratios]
