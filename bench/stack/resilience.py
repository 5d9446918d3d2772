"""Resilience under trouble, as ratios from one run: a hung replica, and 40 open streams.

- A replica frozen (docker pause) under FROZEN_GETS GETs at FROZEN_RATE/s
  through the proxy, against the same load with every replica well: success
  rate, p99, and p99 frozen / well.
- Unary Quote through nginx (gRPC) with STREAMS WatchPrice streams open
  against none: p99 with / without. The streams beyond the pricing replicas'
  caps are refused at once (RESOURCE_EXHAUSTED): counted too.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rich.table import Table

from bench.support.report import right_aligned
from comms_sandbox import config, docker
from comms_sandbox.grpc import l7_channel, pricing_pb2, pricing_pb2_grpc
from scenarios.grpc.client import hold_price_stream
from scenarios.load import Call, burst
from scenarios.result import percentiles_ms

NAME = "resilience"  # python -m bench resilience
LESSON = None  # across lessons: load balancing and gRPC

FROZEN_GETS = 300
FROZEN_RATE = 30
STREAMS = 40
QUOTES = 300


def get_load() -> dict[str, float]:
    result = burst(config.proxy_url(), [Call("/whoami")] * FROZEN_GETS, 4, rate_per_s=FROZEN_RATE)
    ok = len(result.exchanges) - len(result.failures())
    return {"success_rate": round(ok / len(result.exchanges), 4), **result.latency_ms()}


def frozen_replica() -> dict[str, Any]:
    well = get_load()
    frozen = docker.containers("api")[0].name
    docker.pause(frozen)
    try:
        hung = get_load()
    finally:
        docker.unpause(frozen)
    return {"well": well, "one_frozen": hung, "p99_ratio": round(hung["p99"] / well["p99"], 2)}


def quote_p99(stub: pricing_pb2_grpc.PricingServiceStub) -> dict[str, float]:
    request = pricing_pb2.QuoteRequest(sku="BOOK-42", quantity=1)
    timings = []
    for _ in range(QUOTES):
        started = time.perf_counter()
        stub.Quote(request, timeout=10)
        timings.append(time.perf_counter() - started)
    return percentiles_ms(timings)


def streams_open() -> dict[str, Any]:
    with l7_channel() as channel:
        stub = pricing_pb2_grpc.PricingServiceStub(channel)
        quiet = quote_p99(stub)
        held: list[Any] = []
        with ThreadPoolExecutor(STREAMS) as pool:
            outcomes = list(pool.map(lambda _: hold_price_stream(stub, held), range(STREAMS)))
        busy = quote_p99(stub)
        for stream in held:
            stream.cancel()
    return {
        "no_streams": quiet,
        "with_streams": busy,
        "streams_open": outcomes.count("open"),
        "streams_refused": outcomes.count("RESOURCE_EXHAUSTED"),
        "p99_ratio": round(busy["p99"] / quiet["p99"], 2),
    }


def run() -> dict[str, Any]:
    return {"benchmark": NAME, "frozen_replica": frozen_replica(), "streams": streams_open()}


def tables(result: dict[str, Any]) -> list[Table]:
    frozen = result["frozen_replica"]
    gets = right_aligned(
        f"{FROZEN_GETS} GETs at {FROZEN_RATE}/s through nginx",
        "replicas", "succeeded", "p50 (ms)", "p99 (ms)", "max (ms)",
    )  # fmt: skip
    for label, m in (("all well", frozen["well"]), ("one frozen", frozen["one_frozen"])):
        gets.add_row(label, f"{m['success_rate']:.2%}", f"{m['p50']:.1f}", f"{m['p99']:.1f}",
                     f"{m['max']:.1f}")  # fmt: skip
    gets.add_row("p99 frozen / well", "", "", f"{frozen['p99_ratio']:.2f}", "")
    streams = result["streams"]
    quotes = right_aligned(
        f"unary Quote p99 with {STREAMS} WatchPrice streams asked for "
        f"({streams['streams_open']} open, {streams['streams_refused']} refused)",
        "streams", "p50 (ms)", "p99 (ms)",
    )  # fmt: skip
    for label, m in (("none", streams["no_streams"]), ("open", streams["with_streams"])):
        quotes.add_row(label, f"{m['p50']:.1f}", f"{m['p99']:.1f}")
    quotes.add_row("p99 with / without", "", f"{streams['p99_ratio']:.2f}")
    return [gets, quotes]
