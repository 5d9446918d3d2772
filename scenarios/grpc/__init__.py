"""gRPC: the four kinds of RPC through nginx over HTTP/2, and the same quote over REST.

Pricing (services/pricing, sandbox.pricing.v1.PricingService) runs as two
replicas behind nginx's grpc_pass on https://localhost:8443 (proxy/grpc.py).

What to look at:
- each RPC kind: unary Quote, server-streaming WatchPrice, client-streaming
  QuoteBasket, bidirectional Negotiate (offer, counter-offer, until accepted);
- errors with meaning: a short deadline gives DEADLINE_EXCEEDED; a bad sku
  gives INVALID_ARGUMENT with a google.rpc.BadRequest naming the field;
- metadata: the replica answers with x-served-by, and echoes the request id
  nginx gave the call; the standard health service says SERVING; reflection
  lists the services;
- balancing: 20 calls on ONE channel (one HTTP/2 connection) reach both
  replicas through nginx (L7, per call) but one replica through the TCP
  proxy on 8445 (L4, per connection);
- draining: Quotes on one channel with nginx reloaded after 1500 of them,
  calls going on while it reloads and 1000 more after; the
  connection ends with GOAWAY, the channel moves to a new one and no call
  fails (draining.py);
- REST/JSON over HTTP/1.1 (POST /quotes) versus gRPC over HTTP/2 (Quote):
  latency, message bytes and connections for the same number of calls. The
  REST path is proxy -> api -> pricing, so it also pays the api's hop: the
  comparison is between the two ways a client can get a quote here.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console

from comms_sandbox import config, proxy_log
from comms_sandbox.health import require_proxy
from scenarios.grpc import client, draining
from scenarios.report import print_checks, records_table
from scenarios.result import ScenarioResult, all_hold, percentiles_ms

NAME = "grpc"
ORDER = 80  # place in the syllabus
# What `make up LESSON=grpc` starts: nginx's grpc_pass to the two pricing replicas, and the api for
# REST.
SERVICES = ("proxy",)
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "services/protos/sandbox/pricing/v1/pricing.proto",
    "services/protos/generate.sh",
    "services/pricing/",
    "services/api/pricing_client.py",
    "proxy/site.py",
    "proxy/nginx.conf",
    "tests/unit/test_pricing.py",
)
CALLS = 200
CONCURRENCY = 8
QUOTE = {"sku": "BOOK-42", "quantity": 2}
BYTES = "message bytes per call (sent / received)"
WIRE = "bytes on the wire per call (nginx: in / out)"


def grpc_quotes(calls: int = CALLS, label: str = "") -> dict[str, Any]:
    """`calls` unary Quotes, CONCURRENCY at a time, multiplexed on one channel.

    With a `label`, each call carries it (x-sandbox-client) for nginx's log."""
    request = client.pricing_pb2.QuoteRequest(**QUOTE)
    metadata = [("x-sandbox-client", label)] if label else []
    with client.l7_channel() as channel:
        quote = client.stub(channel).Quote
        quote(request, timeout=5)  # connect and handshake before timing

        def one(_: int) -> tuple[float, int]:
            started = time.perf_counter()
            reply = quote(request, timeout=5, metadata=metadata)
            return time.perf_counter() - started, reply.ByteSize()

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            started = time.perf_counter()
            results = list(pool.map(one, range(calls)))
            duration = time.perf_counter() - started
    # gRPC frames each message: 1 byte compressed flag + 4 bytes length.
    return _summary(results, duration, request.ByteSize() + 5, results[0][1] + 5)


def rest_quotes(calls: int = CALLS, label: str = "") -> dict[str, Any]:
    """`calls` POST /quotes over HTTP/1.1, CONCURRENCY at a time (a connection each)."""
    return asyncio.run(_rest_quotes(calls, label))


async def _rest_quotes(calls: int, label: str) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    headers = {"X-Sandbox-Client": label} if label else {}  # the timed calls only
    async with httpx.AsyncClient(
        base_url=config.proxy_url(), verify=config.tls_context(), limits=limits, timeout=10
    ) as http:
        await http.post("/quotes", json=QUOTE)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one() -> tuple[float, int]:
            async with gate:
                started = time.perf_counter()
                response = await http.post("/quotes", json=QUOTE, headers=headers)
                return time.perf_counter() - started, len(response.content)

        started = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(calls)))
        duration = time.perf_counter() - started
    return _summary(results, duration, len(json.dumps(QUOTE).encode()), results[0][1])


def _summary(
    results: list[tuple[float, int]], duration: float, sent: int, received: int
) -> dict[str, Any]:
    return {
        "calls": len(results),
        "per_s": round(len(results) / duration, 1),
        "latency_ms": percentiles_ms([elapsed for elapsed, _ in results]),
        "request_body_bytes": sent,
        "response_body_bytes": received,
    }


def rest_versus_grpc() -> dict[str, dict[str, Any]]:
    """The same quotes both ways; bytes and connections as nginx counted them, per call."""
    run_id = uuid.uuid4().hex[:6]
    labels = {"REST/JSON, HTTP/1.1": f"rest-{run_id}", "gRPC, HTTP/2": f"grpc-{run_id}"}
    since = datetime.now(UTC).isoformat()
    ways = {
        "REST/JSON, HTTP/1.1": rest_quotes(label=labels["REST/JSON, HTTP/1.1"]),
        "gRPC, HTTP/2": grpc_quotes(label=labels["gRPC, HTTP/2"]),
    }
    time.sleep(proxy_log.FLUSH_S)
    lines = proxy_log.access_log(since)
    for way, result in ways.items():
        result["wire"] = proxy_log.per_call(proxy_log.for_client(lines, labels[way]))
    return ways


def calls_of_each_kind() -> dict[str, Any]:
    with client.l7_channel() as channel:
        return {
            "unary": client.unary(channel),
            "server_streaming": client.server_streaming(channel),
            "client_streaming": client.client_streaming(channel),
            "bidirectional": client.bidirectional(channel),
            "deadline": client.deadline_exceeded(channel),
            "invalid_argument": client.invalid_argument(channel),
            "health": client.health(channel),
            "reflection": client.reflected_services(channel),
        }


def balancing() -> dict[str, dict[str, int]]:
    with client.l7_channel() as l7, client.l4_channel() as l4:
        return {
            "L7 nginx grpc_pass (8443)": dict(Counter(client.replicas_per_call(l7))),
            "L4 nginx stream (8445)": dict(Counter(client.replicas_per_call(l4))),
        }


def run() -> ScenarioResult:
    require_proxy()
    metrics = {
        "kinds": calls_of_each_kind(),
        "balancing": balancing(),
        "rest_vs_grpc": rest_versus_grpc(),
        "draining": draining.calls_across_a_reload(),  # last: it reloads nginx
    }
    metrics["checks"] = checks(metrics)
    return ScenarioResult(NAME, all_hold(metrics["checks"]), metrics)


def checks(m: dict[str, Any]) -> dict[str, bool]:
    """Each property the scenario demonstrates, judged from its metrics."""
    kinds, spread = m["kinds"], m["balancing"]
    return {
        "server streaming: ticks 1 to 5 in order": kinds["server_streaming"] == [1, 2, 3, 4, 5],
        "client streaming: 3 items in one reply": kinds["client_streaming"]["items"] == 3,
        "bidirectional: ends accepted": bool(kinds["bidirectional"][-1]["accepted"]),
        "a short deadline ends in DEADLINE_EXCEEDED": kinds["deadline"] == "DEADLINE_EXCEEDED",
        "a bad sku is INVALID_ARGUMENT naming the field": kinds["invalid_argument"]["code"]
        == "INVALID_ARGUMENT"
        and kinds["invalid_argument"]["fields"] == ["sku"],
        "health says SERVING": kinds["health"] == "SERVING",
        "reflection lists the pricing service": "sandbox.pricing.v1.PricingService"
        in kinds["reflection"],
        "L7 spreads calls over at least 2 replicas": len(spread["L7 nginx grpc_pass (8443)"]) >= 2,
        "L4 pins the connection to 1 replica": len(spread["L4 nginx stream (8445)"]) == 1,
        "gRPC: every call on one connection, counted by nginx": grpc_measured_on_one_connection(
            m["rest_vs_grpc"]["gRPC, HTTP/2"], CALLS
        ),
        **{f"draining: {check}": holds for check, holds in draining_checks(m).items()},
    }


def draining_checks(m: dict[str, Any]) -> dict[str, bool]:
    """The draining part's checks, judged from its metrics (draining.py)."""
    return draining.draining_holds(m["draining"])


def grpc_measured_on_one_connection(way: dict[str, Any], calls: int) -> bool:
    """nginx logged every call of the channel, all on one client connection."""
    wire = way["wire"]
    return wire["requests"] == calls and wire["connections"] == 1


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    kinds = [{"call": name, "result": json.dumps(value)} for name, value in m["kinds"].items()]
    console.print(records_table("each kind of RPC, through nginx (TLS, HTTP/2)", kinds,
                                ("call", "result")))  # fmt: skip
    spread = [{"path": path, "replicas (calls)": json.dumps(counts)}
              for path, counts in m["balancing"].items()]  # fmt: skip
    console.print(
        records_table("20 unary calls on one channel", spread, ("path", "replicas (calls)"))
    )
    rows = [
        {"": way, "calls/s": str(r["per_s"]), "p50 ms": str(r["latency_ms"]["p50"]),
         "p99 ms": str(r["latency_ms"]["p99"]),
         BYTES: f"{r['request_body_bytes']} / {r['response_body_bytes']}",
         WIRE: f"{r['wire']['request_bytes']:.0f} / {r['wire']['response_bytes']:.0f}",
         "connections (nginx)": str(r["wire"]["connections"])}
        for way, r in m["rest_vs_grpc"].items()
    ]  # fmt: skip
    columns = ("", "calls/s", "p50 ms", "p99 ms", BYTES, WIRE, "connections (nginx)")
    console.print(
        records_table(f"the same quote, {CALLS} calls, {CONCURRENCY} in flight", rows, columns)
    )
    _render_draining(m["draining"], console)


def _render_draining(d: dict[str, Any], console: Console) -> None:
    rows = [
        {"": "outcomes", "value": json.dumps(d["outcomes"])},
        {"": "calls per connection (nginx)", "value": json.dumps(d["calls_per_connection"])},
    ]
    title = (
        f"draining: {d['calls']} Quotes, one channel, nginx reloaded after {d['reloaded_after']}"
    )
    console.print(records_table(title, rows, ("", "value")))
    print_checks(d["holds"], console)
