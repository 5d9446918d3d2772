"""Scaling: `docker compose up --scale api=N` changes the pool, and nginx follows by itself.

No reload and no restart of the proxy: its upstreams name `api` with
`resolve`, and Docker's DNS answers that name with one address per running
replica. The scenario scales to one more replica, waits until that replica
answers through the proxy, measures the spread, and scales back.
"""

from __future__ import annotations

import time
from typing import Any

from comms_sandbox import config, docker
from proxy import load_balancing as lb
from scenarios.load import Call, burst
from scenarios.load_balancing.methods import CONCURRENCY, per_replica

REQUESTS = 240
JOIN_TIMEOUT_S = 20


def spread(names: dict[str, str]) -> dict[str, int]:
    result = burst(config.proxy_url(), [Call("/whoami")] * REQUESTS, CONCURRENCY)
    return per_replica(result, names)


def wait_until_answers(hostname: str) -> float:
    """Seconds until `hostname` serves a request through the proxy."""
    started = time.monotonic()
    while time.monotonic() - started < JOIN_TIMEOUT_S:
        result = burst(config.proxy_url(), [Call("/whoami")] * 8, 2)
        if hostname in result.per_replica():
            return round(time.monotonic() - started, 2)
        time.sleep(0.2)
    raise docker.DockerError(f"replica {hostname} never answered through the proxy")


def run(target: int = lb.REPLICAS + 1) -> dict[str, Any]:
    before = {c.hostname for c in docker.containers("api")}
    started = time.monotonic()
    try:
        docker.scale("api", target)
        healthy_after_s = round(time.monotonic() - started, 2)
        names = docker.names_by_hostname("api")
        added = sorted(set(names) - before)
        joined_after_s = {names[host]: wait_until_answers(host) for host in added}
        scaled = spread(names)
    finally:
        docker.scale("api", lb.REPLICAS)
    restored = spread(docker.names_by_hostname("api") | names)
    return {
        "scaled_to": target,
        "healthy_after_s": healthy_after_s,
        "answering_through_proxy_after_s": joined_after_s,
        "per_replica_scaled": scaled,
        "per_replica_after_scaling_back": restored,
        "holds": len(scaled) == target and len(restored) == lb.REPLICAS,
    }
