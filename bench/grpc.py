"""Unary gRPC versus REST for the same quote, through the proxy: calls/s and p99, as ratios.

The same client machine, concurrency and call count; rounds interleave the
two and the report gives medians. REST (POST /quotes) goes proxy -> api ->
pricing; gRPC (Quote) goes proxy -> pricing: the two ways a client gets a
quote here, not the same path.
"""

from __future__ import annotations

import statistics
from typing import Any

from rich.table import Table

from bench.support.narrate import measuring
from scenarios.grpc import CONCURRENCY, grpc_quotes, rest_quotes

NAME = "grpc"  # python -m bench grpc
LESSON = "grpc"

CALLS = 1000
ROUNDS = 3


def run() -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"REST/JSON, HTTP/1.1": [], "gRPC, HTTP/2": []}
    for round_ in range(1, ROUNDS + 1):
        with measuring("REST/JSON, HTTP/1.1", round_, ROUNDS):
            runs["REST/JSON, HTTP/1.1"].append(rest_quotes(CALLS))
        with measuring("gRPC, HTTP/2", round_, ROUNDS):
            runs["gRPC, HTTP/2"].append(grpc_quotes(CALLS))
    medians = {
        name: {
            "per_s": round(statistics.median(r["per_s"] for r in results), 1),
            "p99_ms": round(statistics.median(r["latency_ms"]["p99"] for r in results), 2),
        }
        for name, results in runs.items()
    }
    rest, grpc = medians["REST/JSON, HTTP/1.1"], medians["gRPC, HTTP/2"]
    return {
        "tool": f"{CALLS} calls, {CONCURRENCY} in flight, {ROUNDS} rounds, through the proxy (TLS)",
        "runs": medians,
        "grpc_vs_rest_per_s": round(grpc["per_s"] / rest["per_s"], 3),
        "grpc_vs_rest_p99": round(grpc["p99_ms"] / rest["p99_ms"], 3),
    }


def tables(result: dict[str, Any]) -> list[Table]:
    table = Table(title=f"unary gRPC versus REST: {result['tool']} (medians)")
    for column in ("", "calls/s", "p99 (ms)"):
        table.add_column(column, justify="right")
    for name, r in result["runs"].items():
        table.add_row(name, f"{r['per_s']:.0f}", f"{r['p99_ms']:.1f}")
    table.add_row("gRPC / REST", f"{result['grpc_vs_rest_per_s']:.2f}",
                  f"{result['grpc_vs_rest_p99']:.2f}", "")  # fmt: skip
    return [table]
