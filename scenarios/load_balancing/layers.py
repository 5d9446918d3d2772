"""L7 (nginx http, HTTPS on 8443) versus L4 (nginx stream, port 8081) in front of the same replicas.

L7 reads each HTTP request: it can route by path or header, add headers the
replica sees, and balance every request. L4 sees a TCP connection and bytes:
it balances connections, so everything sent on one kept-alive connection
lands on the same replica, and the replica learns nothing about the client.
"""

from __future__ import annotations

from typing import Any

import httpx

from comms_sandbox import config
from scenarios.load_balancing.methods import label, path

KEEPALIVE_REQUESTS = 30
FRESH_CONNECTIONS = 9
# Headers the L7 proxy adds (proxy/site.py FORWARDED_HEADERS) that a replica can use.
PROXY_HEADERS = ("x-forwarded-for", "x-real-ip", "x-forwarded-proto", "x-request-id")


def one_connection(base_url: str, names: dict[str, str]) -> dict[str, Any]:
    """Sequential requests on a single kept-alive client connection."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(
        base_url=base_url, limits=limits, timeout=10, verify=config.tls_context()
    ) as client:
        seen = [client.get("/whoami").json() for _ in range(KEEPALIVE_REQUESTS)]
    replicas = sorted({label(s["hostname"], names) for s in seen})
    return {
        "requests": KEEPALIVE_REQUESTS,
        "client_connections": 1,
        "replicas": replicas,
        # Each replica sees the proxy's side of a connection as (peer, port).
        "connections_seen_by_replicas": len({(s["hostname"], s["peer_port"]) for s in seen}),
    }


def fresh_connections(base_url: str, names: dict[str, str]) -> list[str]:
    """One new TCP connection per request: which replica each one reached."""
    replicas = []
    for _ in range(FRESH_CONNECTIONS):
        with httpx.Client(base_url=base_url, timeout=10, verify=config.tls_context()) as client:
            replicas.append(label(client.get("/whoami").json()["hostname"], names))
    return replicas


def what_the_replica_sees(base_url: str) -> dict[str, Any]:
    seen = httpx.get(f"{base_url}/whoami", timeout=10, verify=config.tls_context()).json()
    headers = seen["headers"]
    return {
        "peer": seen["peer"],
        "proxy_headers": {name: headers.get(name) for name in PROXY_HEADERS},
    }


def path_routing(base_url: str) -> dict[str, Any]:
    """/lb/weighted/whoami is a route at L7; at L4 it is just bytes the replica cannot serve."""
    route = path("weighted", "whoami")
    response = httpx.get(f"{base_url}{route}", timeout=10, verify=config.tls_context())
    return {
        "path": route,
        "status": response.status_code,
        "lb_method": response.headers.get("x-lb-method"),
    }


def side(base_url: str, names: dict[str, str]) -> dict[str, Any]:
    return {
        "url": base_url,
        "one_keepalive_connection": one_connection(base_url, names),
        "new_connection_per_request": fresh_connections(base_url, names),
        "replica_sees": what_the_replica_sees(base_url),
        "path_routing": path_routing(base_url),
    }


def run(names: dict[str, str]) -> dict[str, Any]:
    l7 = side(config.proxy_url(), names)
    l4 = side(config.proxy_l4_url(), names)
    l7_headers = l7["replica_sees"]["proxy_headers"]
    l4_headers = l4["replica_sees"]["proxy_headers"]
    holds = (
        len(l4["one_keepalive_connection"]["replicas"]) == 1
        and len(l7["one_keepalive_connection"]["replicas"]) > 1
        and len(set(l4["new_connection_per_request"])) > 1
        and all(l7_headers.values())
        and not any(l4_headers.values())
        and l7["path_routing"]["status"] == 200
        and l4["path_routing"]["status"] == 404
    )
    return {"L7": l7, "L4": l4, "holds": holds}
