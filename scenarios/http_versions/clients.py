"""The three HTTP versions from the host, each labelled so nginx's log can be matched to it.

HTTP/1.1 and HTTP/2 go through httpx over TCP + TLS, HTTP/3 through
comms_sandbox.http3 over QUIC; all three reach the same locations on port 8443.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from comms_sandbox import config
from comms_sandbox.http3 import Exchange, H3Session

CLIENT_HEADER = "x-sandbox-client"


@dataclass(frozen=True)
class Outcome:
    """One response as the client saw it; times in seconds since the batch started."""

    path: str
    status: int
    version: str  # "HTTP/1.1", "HTTP/2", "HTTP/3"
    alpn: str | None
    alt_svc: str | None
    done_s: float


def tcp_client(http2: bool, connections: int = 1) -> httpx.AsyncClient:
    """At most `connections` TCP connections; HTTP/2 puts every request on one of them."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        base_url=config.proxy_url(), verify=config.tls_context(), http1=not http2, http2=http2,
        limits=limits, timeout=15,
    )  # fmt: skip


def alpn_of(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream else None
    return ssl_object.selected_alpn_protocol() if ssl_object else None


async def tcp_batch(
    client: httpx.AsyncClient, label: str, paths: list[str], *, after_first_s: float = 0.0
) -> list[Outcome]:
    """Every path at once on `client`'s pool; all but the first `after_first_s` later."""
    started = time.monotonic()

    async def one(path: str, delay: float) -> Outcome:
        await asyncio.sleep(delay)
        response = await client.get(path, headers={CLIENT_HEADER: label})
        return Outcome(path, response.status_code, response.http_version, alpn_of(response),
                       response.headers.get("alt-svc"), time.monotonic() - started)  # fmt: skip

    delays = [0.0] + [after_first_s] * (len(paths) - 1)
    return list(await asyncio.gather(*(one(p, d) for p, d in zip(paths, delays, strict=True))))


def run_tcp(http2: bool, connections: int, label: str, paths: list[str],
            after_first_s: float = 0.0) -> list[Outcome]:  # fmt: skip
    async def batch() -> list[Outcome]:
        async with tcp_client(http2, connections) as client:
            return await tcp_batch(client, label, paths, after_first_s=after_first_s)

    return asyncio.run(batch())


def run_h3(label: str, paths: list[str], after_first_s: float = 0.0) -> list[Outcome]:
    """Every path as its own stream on one QUIC connection, after the handshake."""
    with H3Session.open() as session:
        session.run_until(session.handshake_done)
        started = time.monotonic()
        exchanges = []
        for i, path in enumerate(paths):
            exchanges.append(session.request("GET", path, [(CLIENT_HEADER, label)]))
            if i == 0 and after_first_s:
                session.pump(after_first_s)
        session.run_until(lambda: all(e.finished() for e in exchanges), timeout_s=15)
        return [_h3_outcome(e, session.alpn, started) for e in exchanges]


def _h3_outcome(exchange: Exchange, alpn: str | None, started: float) -> Outcome:
    done_s = (exchange.finished_at or started) - started
    alt_svc = exchange.header("alt-svc")
    return Outcome(exchange.path, exchange.status or 0, "HTTP/3", alpn, alt_svc, done_s)


Runner = Callable[[str, list[str], float], list[Outcome]]
RUNNERS: dict[str, Runner] = {
    "HTTP/1.1, 1 connection": lambda label, paths, after: run_tcp(False, 1, label, paths, after),
    "HTTP/1.1, 6 connections": lambda label, paths, after: run_tcp(False, 6, label, paths, after),
    "HTTP/2, 1 connection": lambda label, paths, after: run_tcp(True, 1, label, paths, after),
    "HTTP/3, 1 connection": run_h3,
}


def as_dicts(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    return [o.__dict__ | {"done_ms": round(o.done_s * 1000, 1)} for o in outcomes]
