"""Which protocol each client got, how (ALPN), and how many connections the same requests took.

The client reports what it negotiated; nginx's access log reports what it
served (protocol, ALPN) and from which client port, so connections are
counted at the server: a TCP connection, or a QUIC connection, has one
port for all its requests.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

from comms_sandbox import proxy_log
from scenarios.http_versions.clients import RUNNERS

PATH = "/whoami"
REQUESTS = 12
# What each client must end up with: (version at the client, ALPN, connections).
EXPECTED = {
    "HTTP/1.1, 1 connection": ("HTTP/1.1", "http/1.1", 1),
    "HTTP/1.1, 6 connections": ("HTTP/1.1", "http/1.1", 6),
    "HTTP/2, 1 connection": ("HTTP/2", "h2", 1),
    "HTTP/3, 1 connection": ("HTTP/3", "h3", 1),
}


def run() -> dict[str, Any]:
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    run_id = uuid4().hex[:8]
    labels = {name: f"http-versions-{run_id}-{i}" for i, name in enumerate(RUNNERS)}
    seen = {name: runner(labels[name], [PATH] * REQUESTS, 0.0) for name, runner in RUNNERS.items()}
    time.sleep(proxy_log.FLUSH_S)
    log = proxy_log.access_log(since)
    clients = {name: client_facts(outcomes, proxy_log.for_client(log, labels[name]))
               for name, outcomes in seen.items()}  # fmt: skip
    return {"requests": REQUESTS, "clients": clients, "holds": holds(clients)}


def client_facts(outcomes: list[Any], lines: list[dict[str, Any]]) -> dict[str, Any]:
    def one(values: set[Any]) -> Any:
        return values.pop() if len(values) == 1 else sorted(values, key=str)

    return {
        "version": one({o.version for o in outcomes}),
        "alpn": one({o.alpn for o in outcomes}),
        "statuses": sorted({o.status for o in outcomes}),
        "alt_svc": one({o.alt_svc for o in outcomes}),
        "nginx_protocol": one({line["protocol"] for line in lines}),
        "nginx_alpn": one({line["alpn"] for line in lines}),
        "requests_logged": len(lines),
        "connections": proxy_log.client_ports(lines),
        "all_done_ms": round(max(o.done_s for o in outcomes) * 1000, 1),
    }


def holds(clients: dict[str, dict[str, Any]]) -> dict[str, bool]:
    checks = {}
    for name, (version, alpn, connections) in EXPECTED.items():
        c = clients[name]
        checks[f"{name}: {version} over ALPN {alpn}, both ends agree"] = (
            c["version"] == version and c["alpn"] == alpn == c["nginx_alpn"]
            and c["nginx_protocol"] == version.replace("HTTP/2", "HTTP/2.0").replace("/3", "/3.0")
            and c["statuses"] == [200] and c["requests_logged"] == REQUESTS
        )  # fmt: skip
        checks[f"{name}: {connections} connection(s) at nginx"] = c["connections"] == connections
    checks["Alt-Svc advertises h3 on the TCP answers"] = all(
        "h3=" in str(clients[name]["alt_svc"]) for name in EXPECTED if not name.startswith("HTTP/3")
    )
    return checks
