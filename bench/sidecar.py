"""What the ambassador hop costs: the same paced requests to the app with and without it.

Requests are paced under the ambassador's rate limit (a closed-loop load
would measure its 429s, not its latency) and sent from the host to both
published ports, so both paths include the same Docker port forwarding.
Rounds interleave the two; the report gives medians.
"""

from __future__ import annotations

import statistics
from typing import Any

from rich.table import Table

from bench.support.narrate import measuring
from comms_sandbox import docker
from scenarios.load import Call, burst
from scenarios.sidecar import BARE, bare_url, sidecar_url
from scenarios.sidecar.probes import ITEM, KEY

NAME = "sidecar"  # python -m bench sidecar
LESSON = "sidecar"

REQUESTS = 150
RATE_PER_S = 15.0
ROUNDS = 3
ROUND_S = REQUESTS / RATE_PER_S  # the requests are paced


def expected_s() -> float:
    return ROUNDS * 2 * ROUND_S


def measure(base_url: str) -> dict[str, float]:
    result = burst(base_url, [Call(ITEM, headers=KEY)] * REQUESTS, 1, rate_per_s=RATE_PER_S)
    if result.failures():
        raise RuntimeError(f"{len(result.failures())} failed requests to {base_url}")
    return result.latency_ms()


def run() -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {"with sidecar": [], "without": []}
    docker.start_profile_service(*BARE)
    try:
        for round_ in range(1, ROUNDS + 1):
            with measuring("with sidecar", round_, ROUNDS, ROUND_S):
                runs["with sidecar"].append(measure(sidecar_url()))
            with measuring("without sidecar", round_, ROUNDS, ROUND_S):
                runs["without"].append(measure(bare_url()))
    finally:
        docker.remove_service(*BARE)
    medians = {
        name: {p: round(statistics.median(r[p] for r in results), 2) for p in ("p50", "p99")}
        for name, results in runs.items()
    }
    return {
        "tool": f"{REQUESTS} GETs at {RATE_PER_S:.0f}/s, one connection, {ROUNDS} rounds",
        "latency_ms": medians,
        "p50_ratio": round(medians["with sidecar"]["p50"] / medians["without"]["p50"], 3),
        "p99_ratio": round(medians["with sidecar"]["p99"] / medians["without"]["p99"], 3),
    }


def tables(result: dict[str, Any]) -> list[Table]:
    table = Table(title=f"sidecar hop: {result['tool']} (medians)")
    for column in ("path", "p50 (ms)", "p99 (ms)"):
        table.add_column(column, justify="right")
    for name, latency in result["latency_ms"].items():
        table.add_row(name, f"{latency['p50']:.2f}", f"{latency['p99']:.2f}")
    table.add_row("ratio", f"{result['p50_ratio']:.2f}", f"{result['p99_ratio']:.2f}")
    return [table]
