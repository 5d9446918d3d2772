"""Multiplexing against demultiplexing: streams on one connection, and connections behind it.

An HTTP/2 client sends STREAMS requests at once as streams of one connection;
nginx answers each from an HTTP/1.1 upstream connection, which carries one
request at a time, so it spreads them over as many connections as are in
flight. STREAMS HTTP/1.1 clients need STREAMS connections to the proxy
instead. gRPC is HTTP/2 on both sides, yet nginx (1.30, like every
open-source release so far) gives each call in flight an upstream connection
of its own: it multiplexes client streams, never upstream ones.

Counted by the kernel in the edge's network namespace (Tcp.PassiveOpens: the
connections it accepted; Tcp.ActiveOpens: those it opened) and by the
replicas (the client ports of the edge's connections that carried the run).
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from comms_sandbox import config, proxies
from comms_sandbox.grpc import l7_channel, pricing_pb2, pricing_stub
from comms_sandbox.ports import EDGE, EDGE_TLS, HOST

STREAMS = 100


def run() -> dict[str, Any]:
    edge = proxies.container("edge")
    ways: dict[str, Callable[[str], int]] = {
        "1 HTTP/2 client, 100 streams": http2_client,
        "100 HTTP/1.1 clients": http1_clients,
        "gRPC: 1 channel, 100 calls": grpc_calls,
    }
    found = {name: counted(edge, way) for name, way in ways.items()}
    return {"streams": STREAMS, "ways": found, "holds": holds(found)}


def counted(edge: str, way: Callable[[str], int]) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:12]
    before = proxies.tcp_opens(edge)
    answered = way(run_id)
    after = proxies.tcp_opens(edge)
    peers = {peer for counts in proxies.replica_counts().values()
             for peer in counts["peers_by_run"].get(run_id, [])}  # fmt: skip
    return {"answered": answered,
            "client connections at the proxy": after["accepted"] - before["accepted"],
            "connections the proxy opened": after["opened"] - before["opened"],
            "upstream connections that carried them": len(peers) or None}  # fmt: skip


def http2_client(run_id: str) -> int:
    async def streams() -> list[int]:
        limits = httpx.Limits(max_connections=1)
        trust = ssl.create_default_context(cafile=config.ca_cert())
        async with httpx.AsyncClient(http2=True, verify=trust, limits=limits,
                                     base_url=f"https://localhost:{EDGE_TLS.port}",
                                     timeout=20) as client:  # fmt: skip
            answers = await asyncio.gather(*(client.get(f"/direct/prices?run={run_id}")
                                             for _ in range(STREAMS)))  # fmt: skip
            return [a.status_code for a in answers if a.http_version == "HTTP/2"]

    return asyncio.run(streams()).count(200)


def http1_clients(run_id: str) -> int:
    async def clients() -> list[int]:
        async def one() -> int:
            async with httpx.AsyncClient(base_url=f"http://{HOST}:{EDGE.port}", timeout=20) as c:
                return (await c.get(f"/direct/prices?run={run_id}")).status_code

        return list(await asyncio.gather(*(one() for _ in range(STREAMS))))

    return asyncio.run(clients()).count(200)


def grpc_calls(_: str) -> int:
    with l7_channel(EDGE_TLS.port) as channel:
        stub = pricing_stub(channel)
        calls = [stub.Quote.future(pricing_pb2.QuoteRequest(sku="ESPRESSO", quantity=1),
                                   timeout=20) for _ in range(STREAMS)]  # fmt: skip
        return sum(call.exception() is None for call in calls)  # each waits for its call


def holds(ways: dict[str, dict[str, Any]]) -> dict[str, bool]:
    h2, h1, rpc = (ways[name] for name in ways)
    return {
        f"{STREAMS} HTTP/2 streams reach the proxy on 1 connection, "
        "and leave it on many HTTP/1.1 connections":
            h2["answered"] == STREAMS and h2["client connections at the proxy"] == 1
            and (h2["upstream connections that carried them"] or 0) > 1,
        f"{STREAMS} HTTP/1.1 clients take {STREAMS} connections to the proxy":
            h1["answered"] == STREAMS and h1["client connections at the proxy"] == STREAMS,
        f"{STREAMS} gRPC calls on 1 client connection take more than 1 upstream connection "
        "(nginx does not multiplex upstream)":
            rpc["answered"] == STREAMS and rpc["client connections at the proxy"] == 1
            and rpc["connections the proxy opened"] > 1,
    }  # fmt: skip
