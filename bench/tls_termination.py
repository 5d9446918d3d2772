"""TLS through the proxy: what handshakes and HTTP versions cost, as ratios from one run.

- New connection per request (connect, handshake, one HTTP/1.1 GET, close),
  for TLS 1.2 and 1.3, full and resumed: connections per second and latency.
  Client and server share the machine, so a connection's cost is both sides'.
- Kept-alive HTTPS (TLS 1.3): the same GETs over HTTP/1.1 and HTTP/2, with
  CONCURRENCY in flight: HTTP/1.1 opens a connection per request in flight,
  HTTP/2 multiplexes them on one.
Rounds interleave every configuration; the report gives medians.
"""

from __future__ import annotations

import asyncio
import ssl
import statistics
import time
from typing import Any

import httpx
from rich.table import Table

from bench.support.narrate import measuring
from bench.support.report import right_aligned
from comms_sandbox import config, ports
from scenarios.result import percentiles_ms
from scenarios.tls_termination.probes import Target, connect, context, handshake

NAME = "tls-termination"  # python -m bench tls-termination
LESSON = "tls-termination"

SECONDS = 3.0
ROUNDS = 3
REQUESTS = 400
CONCURRENCY = 16
VERSIONS = {"TLS 1.2": ssl.TLSVersion.TLSv1_2, "TLS 1.3": ssl.TLSVersion.TLSv1_3}
TARGET = Target("termination", ports.PROXY_TLS.port, "localhost", "/whoami")
REQUEST = b"GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def one_connection(ctx: ssl.SSLContext, session: ssl.SSLSession | None) -> tuple[float, bool]:
    started = time.perf_counter()
    with (
        connect(TARGET.port) as raw,
        ctx.wrap_socket(raw, server_hostname=TARGET.sni, session=session) as conn,
    ):
        conn.sendall(REQUEST)
        while conn.recv(65536):
            pass
        return time.perf_counter() - started, conn.session_reused


def connections(version: ssl.TLSVersion, resumed: bool) -> dict[str, Any]:
    ctx = context(version)
    ctx.set_alpn_protocols(["http/1.1"])
    session = handshake(TARGET, ctx)["session"] if resumed else None
    latencies, reused = [], 0
    deadline = time.perf_counter() + SECONDS
    while time.perf_counter() < deadline:
        elapsed, was_reused = one_connection(ctx, session)
        latencies.append(elapsed)
        reused += was_reused
    return {
        "per_s": len(latencies) / SECONDS,
        "p50_ms": percentiles_ms(latencies)["p50"],
        "p99_ms": percentiles_ms(latencies)["p99"],
        "reused": reused / len(latencies),
    }


async def _keepalive(http2: bool) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=config.proxy_url(), verify=config.tls_context(), http2=http2, limits=limits
    ) as client:
        await client.get("/healthz")  # the handshake is not what is measured here

        async def one() -> tuple[float, str, Any]:
            async with gate:
                started = time.perf_counter()
                response = await client.get("/whoami")
                stream = response.extensions["network_stream"]
                local = stream.get_extra_info("client_addr")  # one per TCP connection
                return time.perf_counter() - started, response.http_version, local

        started = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(REQUESTS)))
        duration = time.perf_counter() - started
    latency = percentiles_ms([elapsed for elapsed, _, _ in results])
    return {
        "per_s": REQUESTS / duration,
        "p50_ms": latency["p50"],
        "p99_ms": latency["p99"],
        "http_version": results[0][1],
        "connections": len({local for _, _, local in results}),
    }


def keepalive(http2: bool) -> dict[str, Any]:
    return asyncio.run(_keepalive(http2))


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: round(statistics.median(run[key] for run in runs), 2)
        if isinstance(runs[0][key], int | float) and not isinstance(runs[0][key], bool)
        else runs[0][key]
        for key in runs[0]
    }


def run() -> dict[str, Any]:
    configs = {
        **{
            f"{name}, {kind}": (lambda v=version, r=(kind == "resumed"): connections(v, r))
            for name, version in VERSIONS.items()
            for kind in ("full", "resumed")
        },
        "HTTP/1.1": lambda: keepalive(http2=False),
        "HTTP/2": lambda: keepalive(http2=True),
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    for round_ in range(1, ROUNDS + 1):
        for name, measure in configs.items():
            with measuring(name, round_, ROUNDS):
                runs[name].append(measure())
    medians = {name: _median(results) for name, results in runs.items()}
    return {
        "tool": f"Python ssl/httpx client on the same host, {SECONDS:.0f} s or {REQUESTS} "
        f"requests per run, {ROUNDS} rounds",
        "runs": medians,
        "ratios": _ratios(medians),
    }


def _ratio(medians: dict[str, Any], a: str, b: str, key: str) -> float:
    return round(medians[a][key] / medians[b][key], 3)


def _ratios(m: dict[str, Any]) -> dict[str, dict[str, float]]:
    pairs = {
        "TLS 1.3 / TLS 1.2, full handshakes": ("TLS 1.3, full", "TLS 1.2, full"),
        "TLS 1.3 / TLS 1.2, resumed": ("TLS 1.3, resumed", "TLS 1.2, resumed"),
        "resumed / full, TLS 1.2": ("TLS 1.2, resumed", "TLS 1.2, full"),
        "resumed / full, TLS 1.3": ("TLS 1.3, resumed", "TLS 1.3, full"),
        "HTTP/2 / HTTP/1.1, kept alive": ("HTTP/2", "HTTP/1.1"),
    }
    return {
        label: {"per_s": _ratio(m, a, b, "per_s"), "p99": _ratio(m, a, b, "p99_ms")}
        for label, (a, b) in pairs.items()
    }


def tables(result: dict[str, Any]) -> list[Table]:
    runs = right_aligned(f"TLS through the proxy: {result['tool']} (medians)",
                         "run", "per s", "p50 (ms)", "p99 (ms)", "detail")  # fmt: skip
    for name, m in result["runs"].items():
        detail = (
            f"{m['http_version']}, {m['connections']} connection(s)"
            if "connections" in m
            else f"new connection each, {m['reused']:.0%} resumed"
        )
        runs.add_row(name, f"{m['per_s']:.0f}", f"{m['p50_ms']:.1f}", f"{m['p99_ms']:.1f}", detail)
    ratios = right_aligned("ratios, same run", "ratio", "per s", "p99")
    for label, r in result["ratios"].items():
        ratios.add_row(label, f"{r['per_s']:.2f}", f"{r['p99']:.2f}")
    return [runs, ratios]
