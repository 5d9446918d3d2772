"""HTTP/1.1, HTTP/2 and HTTP/3 through nginx, and what setting up each connection costs.

- Throughput: REQUESTS GETs of /whoami with CONCURRENCY in flight: HTTP/1.1
  over CONCURRENCY kept-alive TCP connections, HTTP/2 and HTTP/3 as that
  many streams on one connection. Requests per second and p99.
- Set-up: a new connection and one GET, SETUPS times per kind: TCP + TLS 1.3
  full and resumed, QUIC full and resumed with the GET in 0-RTT; time until
  the request could be sent (handshake) and to the first response byte.
Every client is Python on the same 2 cores as nginx and the api: httpx for
TCP (asyncio, its HTTP/1.1 and HTTP/2 in Python), aioquic for QUIC driven by
a plain loop (packet protection in C, the rest Python). The clients' own
costs differ and are part of each number: these are three clients through
one nginx, not nginx's protocols alone. Rounds interleave them; medians.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from rich.table import Table

from bench.support.narrate import measuring
from bench.support.report import right_aligned
from comms_sandbox.http3 import Exchange, H3Session
from scenarios.http_versions import handshakes
from scenarios.http_versions.clients import tcp_client
from scenarios.result import percentiles_ms

NAME = "http-versions"  # python -m bench http-versions
LESSON = "http-versions"

REQUESTS = 400
CONCURRENCY = 16
SETUPS = 20
ROUNDS = 3
PATH = "/whoami"


async def _over_tcp(http2: bool) -> list[float]:
    connections = 1 if http2 else CONCURRENCY
    async with tcp_client(http2, connections) as client:
        # Every connection made before the clock starts.
        await asyncio.gather(*(client.get("/healthz") for _ in range(connections)))
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one() -> float:
            async with gate:
                started = time.perf_counter()
                (await client.get(PATH)).raise_for_status()
                return time.perf_counter() - started

        return list(await asyncio.gather(*(one() for _ in range(REQUESTS))))


def over_http3() -> list[float]:
    """REQUESTS GETs, CONCURRENCY streams in flight on one QUIC connection."""
    latencies: list[float] = []
    with H3Session.open() as session:
        session.run_until(session.handshake_done)
        in_flight: list[Exchange] = []
        started = 0
        while len(latencies) < REQUESTS:
            while len(in_flight) < CONCURRENCY and started < REQUESTS:
                in_flight.append(session.request("GET", PATH))
                started += 1
            session.run_until(lambda: any(e.finished() for e in in_flight))
            for exchange in [e for e in in_flight if e.finished()]:
                if exchange.status != 200:
                    raise RuntimeError(f"HTTP/3 GET answered {exchange.status}")
                latencies.append(exchange.finished_at - exchange.started_at)
                in_flight.remove(exchange)
    return latencies


def throughput(measure: Callable[[], list[float]]) -> dict[str, float]:
    started = time.perf_counter()
    latencies = measure()
    duration = time.perf_counter() - started
    latency = percentiles_ms(latencies)
    return {"per_s": round(len(latencies) / duration, 1), "p50_ms": latency["p50"],
            "p99_ms": latency["p99"]}  # fmt: skip


THROUGHPUT = {
    "HTTP/1.1": lambda: throughput(lambda: asyncio.run(_over_tcp(http2=False))),
    "HTTP/2": lambda: throughput(lambda: asyncio.run(_over_tcp(http2=True))),
    "HTTP/3": lambda: throughput(over_http3),
}


def setups(connect: Callable[[Any], tuple[dict[str, Any], Any]], resume: bool) -> dict[str, float]:
    _, carried = connect(None)
    runs = []
    for _ in range(SETUPS):
        facts, left = connect(carried if resume else None)
        runs.append(facts)
        carried = left if resume else carried
    return {key: round(statistics.median(r[key] for r in runs), 2)
            for key in ("handshake_ms", "ttfb_ms")}  # fmt: skip


SETUP = {
    "TCP + TLS 1.3, full": lambda: setups(handshakes.tcp_tls, resume=False),
    "TCP + TLS 1.3, resumed": lambda: setups(handshakes.tcp_tls, resume=True),
    "QUIC, full": lambda: setups(handshakes.quic, resume=False),
    "QUIC, resumed, 0-RTT": lambda: setups(handshakes.quic, resume=True),
}


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}


def run() -> dict[str, Any]:
    measured: dict[str, list[dict[str, float]]] = {name: [] for name in (*THROUGHPUT, *SETUP)}
    for round_ in range(1, ROUNDS + 1):
        for name, measure in (*THROUGHPUT.items(), *SETUP.items()):
            with measuring(name, round_, ROUNDS):
                measured[name].append(measure())
    medians = {name: _medians(runs) for name, runs in measured.items()}
    return {
        "tool": f"Python clients (httpx, aioquic) on the same host, {REQUESTS} GETs with "
        f"{CONCURRENCY} in flight, {SETUPS} new connections per kind, {ROUNDS} rounds",
        "throughput": {name: medians[name] for name in THROUGHPUT},
        "setup": {name: medians[name] for name in SETUP},
        "ratios": ratios(medians),
    }


def ratios(m: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Everything against HTTP/1.1 (TCP + TLS 1.3, full, for set-up)."""
    base, setup_base = m["HTTP/1.1"], m["TCP + TLS 1.3, full"]
    out = {f"{name} / HTTP/1.1": {"per_s": round(m[name]["per_s"] / base["per_s"], 3),
                                  "p99": round(m[name]["p99_ms"] / base["p99_ms"], 3)}
           for name in ("HTTP/2", "HTTP/3")}  # fmt: skip
    for name in ("TCP + TLS 1.3, resumed", "QUIC, full", "QUIC, resumed, 0-RTT"):
        out[f"set-up {name} / TCP + TLS 1.3, full"] = {
            "handshake": round(m[name]["handshake_ms"] / setup_base["handshake_ms"], 3),
            "ttfb": round(m[name]["ttfb_ms"] / setup_base["ttfb_ms"], 3),
        }
    return out


def tables(result: dict[str, Any]) -> list[Table]:
    speed = right_aligned(f"HTTP versions through nginx: {result['tool']} (medians)",
                          "protocol", "per s", "p50 (ms)", "p99 (ms)")  # fmt: skip
    for name, r in result["throughput"].items():
        speed.add_row(name, f"{r['per_s']:.0f}", f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}")
    setup = right_aligned("a new connection and one GET (medians, ms)",
                          "kind", "until the request leaves", "first byte")  # fmt: skip
    for name, r in result["setup"].items():
        setup.add_row(name, f"{r['handshake_ms']:.2f}", f"{r['ttfb_ms']:.2f}")
    ratios_ = right_aligned("ratios, same run", "ratio", "a", "b")
    for label, r in result["ratios"].items():
        (a, va), (b, vb) = r.items()
        ratios_.add_row(label, f"{a} {va:.2f}", f"{b} {vb:.2f}")
    return [speed, setup, ratios_]
