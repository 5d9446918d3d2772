"""What the proxies cost and save: the edge's cache, Squid's hop, and upstream connections.

- cached against uncached: wrk (the loadgen tool, on the back network) GETs
  the price list for WRK_SECONDS on CONNECTIONS connections from the edge's
  cache (warm) and straight from a replica through the edge (`/direct/`, the
  origin's 0.3 s each time); requests/s and p99;
- a 1 MiB HTTPS download from the outside site, through Squid (the inside
  client) and direct (the same client put on the site's network), 5 each;
- upstream connections per 100 client requests for HTTP/1.1 clients, one
  HTTP/2 client and one gRPC channel (the lesson's multiplexing part).
Ratios are measured side by side in one run.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from typing import Any

from rich.table import Table

from bench.support.narrate import measuring
from bench.support.report import rates_with_ratio
from comms_sandbox import REPO
from comms_sandbox.compose import compose_env
from comms_sandbox.wrk import build_image, wrk
from scenarios.proxies import multiplexing

NAME = "proxies"  # python -m bench proxies
LESSON = "proxies"

WRK_SECONDS, CONNECTIONS = 8, 20
EDGE_INSIDE = "http://edge:8080"  # wrk runs on the back network, beside the edge
DOWNLOAD = "https://www.outside.test/download?bytes=1048576"
DOWNLOADS = 20


def expected_s() -> float:
    return 50.0


def get_rate(path: str) -> dict[str, float]:
    load = wrk(f"{EDGE_INSIDE}{path}", seconds=WRK_SECONDS, connections=CONNECTIONS)
    if load.errors:
        raise RuntimeError(f"{load.errors} failed GETs of {path}")
    return {"per_s": round(load.requests_per_s, 1), "p99_ms": load.p99_ms}


def downloads(network: str, proxy: str | None) -> float:
    """Median seconds of DOWNLOADS downloads by the inside client, on `network`."""
    args = [*(["--proxy", proxy] if proxy else []), *[DOWNLOAD] * DOWNLOADS]
    tls = REPO / ".sandbox" / "tls" / "ca.pem"
    command = ["docker", "run", "--rm", "--read-only", "--cap-drop", "ALL",
               "--network", f"comms-sandbox_{network}", "-v", f"{tls}:/etc/outside-tls/ca.pem:ro",
               "comms-sandbox/service:dev", "python", "-m", "outside.fetch", *args]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=compose_env())
    answers = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if any(a.get("bytes") != 1048576 for a in answers):
        raise RuntimeError(f"a download did not complete: {answers}")
    return round(statistics.median(a["seconds"] for a in answers), 4)


def run() -> dict[str, Any]:
    build_image()
    with measuring("cached and uncached GETs", 1, 1):
        wrk(f"{EDGE_INSIDE}/cache/prices?run=bench", seconds=1, connections=2)  # warm it
        cached = get_rate("/cache/prices?run=bench")
        uncached = get_rate("/direct/prices?run=bench")
    with measuring("1 MiB over HTTPS, through Squid and direct", 1, 1):
        through = downloads("proxies-inside", "http://squid:3128")
        direct = downloads("proxies-outside", None)
    with measuring("upstream connections per 100 requests", 1, 1):
        connections = multiplexing.run()["ways"]
    return {
        "tool": f"wrk {WRK_SECONDS} s on {CONNECTIONS} connections; "
                f"{DOWNLOADS} downloads of 1 MiB",
        "cached": cached, "uncached": uncached,
        "cached_per_s_ratio": round(cached["per_s"] / uncached["per_s"], 1),
        "download_s": {"through Squid": through, "direct": direct},
        "squid_time_ratio": round(through / direct, 2),
        "upstream_connections_per_100": {
            way: counts["connections the proxy opened"] for way, counts in connections.items()},
    }  # fmt: skip


def tables(result: dict[str, Any]) -> list[Table]:
    gets = rates_with_ratio(
        f"the edge's cache: {result['tool']}", "path",
        {name: result[name] for name in ("cached", "uncached")},
        ("ratio (target at least 5)", result["cached_per_s_ratio"]),
    )  # fmt: skip
    hop = Table(title="1 MiB over HTTPS from the outside site (median seconds)")
    for column in ("path", "seconds"):
        hop.add_column(column, justify="right")
    for name, seconds in result["download_s"].items():
        hop.add_row(name, str(seconds))
    hop.add_row("ratio", str(result["squid_time_ratio"]))
    conns = Table(title="upstream connections the edge opened per 100 client requests")
    for column in ("clients", "connections"):
        conns.add_column(column, justify="right")
    for way, count in result["upstream_connections_per_100"].items():
        conns.add_row(way, str(count))
    return [gets, hop, conns]
