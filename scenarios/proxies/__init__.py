"""Proxies: forward and reverse, caching, keep-alive timeouts, streams, sessions, PROXY protocol.

A forward proxy acts for clients (here Squid, the only way out of a network):
it sees where they go, and the sites see it instead of them. A reverse proxy
acts for servers (here nginx, the lesson's own "edge" before three catalog
replicas): it caches, balances and ends connections on their behalf.

What to look at:
- forward: Squid's access log holds the method, full URL and headers of a
  plain-HTTP request, but only `CONNECT www.outside.test:443` and byte counts
  for HTTPS; a host off its allowlist gets Squid's 403; the site's peer is
  Squid's address, never the client's; nothing routes from inside without it;
- caching: 200 concurrent cold GETs reach the origin 200 times without
  proxy_cache_lock and once with it (counted by the replicas); after max-age
  nginx revalidates (the origin answers 304); with every replica stopped the
  expired copy is served STALE with no 5xx; private, Set-Cookie and
  Authorization answers are never cached; Vary keeps one copy per language;
- keep-alive: nginx holding idle upstream connections longer (60 s) than
  uvicorn (5 s) gets 502s on POSTs sent as the replica closes (nginx's reason
  in its error log); GETs are retried on a new connection; 4 s gives 0;
- multiplexing: 100 HTTP/2 streams arrive on 1 connection and leave on about
  100 HTTP/1.1 ones; 100 HTTP/1.1 clients take 100 connections; 100 gRPC
  calls on 1 connection take about 100 upstream connections too (counted by
  the edge's kernel: nginx does not multiplex upstream);
- sessions: memory sessions under round robin get 401s, Redis sessions none
  (even with a replica killed); sticky routing keeps memory sessions until
  their replica dies or a replica is added;
- client address: through a layer-4 proxy the replica sees the proxy's
  address, unless the PROXY protocol carries the client's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from comms_sandbox.health import require_lesson_service, url_answers
from comms_sandbox.ports import EDGE, EDGE_L4, EDGE_PROXY_PROTOCOL, EDGE_TLS, HOST, SQUID
from scenarios.proxies import caching, client_address, forward, keepalive, multiplexing, sessions
from scenarios.proxies.render import render
from scenarios.result import ScenarioResult, from_parts, run_parts

NAME = "proxies"
# Where `--capture` records its packets (scenarios/capture.py).
CAPTURE_AT = ("edge", "squid")
ORDER = 25  # place in the syllabus: after load balancing, before TLS termination
# What `make up LESSON=proxies` starts (forward-client is run per use: `compose run`).
SERVICES = (
    "squid",
    "outside",
    "proxies-redis",
    "proxies-pricing",
    "catalog",
    "toxiproxy-edge",
    "edge",
)
SHARED_FILES = (
    "proxy/proxies.conf",
    "images/squid/",
    "comms_sandbox/toxiproxy.py",
    "proxy/grpc.py",
)
PARTS: dict[str, Callable[[], dict[str, Any]]] = {
    "forward": forward.run,
    "caching": caching.run,
    "keep-alive": keepalive.run,
    "multiplexing": multiplexing.run,
    "sessions": sessions.run,
    "client address": client_address.run,
}

__all__ = ["NAME", "ORDER", "SERVICES", "render", "run", "where"]


def where() -> list[tuple[str, str]]:
    return [
        ("Squid, the forward proxy", f"curl -x http://{HOST}:{SQUID.port} http://www.outside.test/"),
        ("the inside client", "docker compose run --rm forward-client --proxy http://squid:3128 "
                              "https://www.outside.test/"),
        ("Squid's access log", "docker compose exec squid tail -f /var/log/squid/access.log"),
        ("the edge's cache", f"curl -i http://{HOST}:{EDGE.port}/cache/prices"),
        ("the edge over HTTP/2", f"curl --http2 --cacert .sandbox/tls/ca.pem "
                                 f"https://localhost:{EDGE_TLS.port}/direct/prices"),
        ("the PROXY protocol", f"nc {HOST} {EDGE_PROXY_PROTOCOL.port}  (and {EDGE_L4.port})"),
        ("the edge's log", "docker compose logs -f edge"),
    ]  # fmt: skip


def run() -> ScenarioResult:
    require_lesson_service("The edge (nginx)", lambda: url_answers(
        f"http://{HOST}:{EDGE.port}/nginx-health"), NAME)  # fmt: skip
    results = run_parts(PARTS)  # each part narrated as it starts, its checks as it ends
    return from_parts(NAME, results, PARTS)
