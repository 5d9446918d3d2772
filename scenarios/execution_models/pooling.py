"""Keep-alive and pooling: connections opened for the same requests, counted by the servers.

- Client to nginx, over HTTPS: REQUESTS GETs with one pooled client (one
  connection, one TLS handshake) against a new connection for each request
  (a TCP and a TLS handshake each). nginx's access log says which client
  port each request came from: one port, one connection.
- nginx to the upstream: the same GETs through /exec/async/ (nginx keeps
  idle connections to exec-async) and /exec/no-keepalive/ (a new one per
  request). Counted by exec-async's kernel: Tcp PassiveOpens, the
  connections its namespace accepted (the container's healthcheck adds
  about one a second).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import httpx

from comms_sandbox import config, docker, kernel_counters, proxy_log

REQUESTS = 60
PATH = "/fast"
CLIENT_HEADER = "x-sandbox-client"
OPENED = ("Tcp.PassiveOpens",)


def timed_gets(get: Callable[[str, dict[str, str]], httpx.Response], url: str,
               label: str) -> list[float]:  # fmt: skip
    latencies = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        get(url, {CLIENT_HEADER: label}).raise_for_status()
        latencies.append(time.perf_counter() - started)
    return latencies


def pooled(client: httpx.Client) -> Callable[[str, dict[str, str]], httpx.Response]:
    return lambda url, headers: client.get(url, headers=headers)


def new_connection_each(url: str, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(verify=config.tls_context(), timeout=10) as client:
        return client.get(url, headers=headers)


def client_side(client: httpx.Client) -> dict[str, Any]:
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    run_id = uuid4().hex[:8]
    url = f"{config.proxy_url()}/exec/async{PATH}"
    ways = {"one pooled client": pooled(client), "a new connection each": new_connection_each}
    times = {name: timed_gets(get, url, f"pool-{run_id}-{i}")
             for i, (name, get) in enumerate(ways.items())}  # fmt: skip
    time.sleep(proxy_log.FLUSH_S)
    log = proxy_log.access_log(since)
    return {name: {"connections_at_nginx": proxy_log.client_ports(
                       proxy_log.for_client(log, f"pool-{run_id}-{i}")),
                   "p50_ms": _ms(statistics.median(times[name]))}
            for i, name in enumerate(ways)}  # fmt: skip


def upstream_side(client: httpx.Client) -> dict[str, Any]:
    container = docker.containers("exec-async")[0].name
    sides = {}
    for name, prefix in (("nginx keeps connections", "/exec/async"),
                         ("a new connection each", "/exec/no-keepalive")):  # fmt: skip
        before = kernel_counters.in_container(container)
        times = timed_gets(pooled(client), f"{config.proxy_url()}{prefix}{PATH}", "upstream")
        opened = kernel_counters.delta(before, kernel_counters.in_container(container), OPENED)
        sides[name] = {"opened_at_upstream": opened["Tcp.PassiveOpens"],
                       "p50_ms": _ms(statistics.median(times))}  # fmt: skip
    return sides


def run() -> dict[str, Any]:
    with httpx.Client(verify=config.tls_context(), timeout=10) as client:
        client.get(f"{config.proxy_url()}/exec/async{PATH}")  # nginx's idle connection is made
        result = {"client": client_side(client), "upstream": upstream_side(client)}
    return {"requests": REQUESTS, **result, "holds": holds(result)}


def holds(r: dict[str, Any]) -> dict[str, bool]:
    (pool, each), (kept, fresh) = r["client"].values(), r["upstream"].values()
    return {
        "the pooled client used 1 connection, the other one per request": (
            pool["connections_at_nginx"] == 1 and each["connections_at_nginx"] == REQUESTS
        ),
        "with keep-alive nginx opened a tenth or less of the upstream connections": (
            fresh["opened_at_upstream"] >= REQUESTS
            and kept["opened_at_upstream"] * 10 <= fresh["opened_at_upstream"]
        ),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
