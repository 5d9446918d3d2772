"""What checking a token costs: POST /quotes with none, checked in the api, checked at nginx.

The same paced requests (under any replica's capacity: latency, not queueing)
through nginx's TLS port to three paths: the default replicas with no token
(/quotes), api-auth checking the token itself (/secure/quotes), and nginx
checking it with auth_request before the default replicas (/edge/quotes: one
subrequest to api-auth's verifier per request). Rounds interleave the paths;
the report gives medians, their ratios to no token, and the CPU time nginx,
the api replicas, api-auth and pricing spent per request (their cgroups'
counters), which a busy machine skews far less than latency.
"""

from __future__ import annotations

import statistics
from typing import Any

from rich.table import Table

from bench.support.narrate import measuring
from comms_sandbox import auth, cgroups, config, docker
from comms_sandbox.compose import start_services
from scenarios import auth as lesson
from scenarios.load import Call, burst

NAME = "auth"  # python -m bench auth
LESSON = "auth"

REQUESTS = 150
RATE_PER_S = 20.0
ROUNDS = 3
ROUND_S = REQUESTS / RATE_PER_S
PATHS = {"no token": "/quotes", "checked in api-auth": "/secure/quotes",
         "checked at nginx": "/edge/quotes"}  # fmt: skip


def expected_s() -> float:
    return ROUNDS * len(PATHS) * ROUND_S


# Where a request's CPU goes on any of the three paths (pricing prices each quote too).
COUNTED_SERVICES = ("proxy", "api", "api-auth", "pricing")


def counted_containers() -> list[str]:
    return [c.name for service in COUNTED_SERVICES for c in docker.containers(service)]


def cpu_seconds(names: list[str]) -> float:
    """CPU time the containers have used, from their cgroups."""
    return sum(cgroups.cpu_seconds(name) for name in names)


def measure(path: str, token: str | None, names: list[str]) -> dict[str, float]:
    """Latency percentiles of REQUESTS paced POSTs, and the CPU ms the services spent on
    each (background work, healthchecks included: the same on every path)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    before = cpu_seconds(names)
    result = burst(config.proxy_url(), [Call(path, "POST", headers, lesson.QUOTE)] * REQUESTS, 1,
                   rate_per_s=RATE_PER_S)  # fmt: skip
    if result.failures():
        raise RuntimeError(f"{len(result.failures())} failed requests to {path}")
    cpu_ms = (cpu_seconds(names) - before) * 1000 / REQUESTS
    return result.latency_ms() | {"cpu_ms": cpu_ms}


def run() -> dict[str, Any]:
    start_services(lesson.SERVICES)  # stopped after, as every lesson's (bench/__main__.py)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in PATHS}
    names = counted_containers()
    for round_ in range(1, ROUNDS + 1):
        token = auth.token("C-001", "quotes")  # lives 5 minutes: one per round
        for name, path in PATHS.items():
            with measuring(name, round_, ROUNDS, ROUND_S):
                runs[name].append(measure(path, None if name == "no token" else token, names))
    medians = {
        name: {key: round(statistics.median(r[key] for r in results), 3)
               for key in ("p50", "p99", "cpu_ms")}
        for name, results in runs.items()
    }  # fmt: skip
    base = medians["no token"]
    return {
        "tool": f"{REQUESTS} POST /quotes at {RATE_PER_S:.0f}/s, one connection, {ROUNDS} rounds",
        "latency_ms": medians,
        "ratios_to_no_token": {
            name: {p: round(m[p] / base[p], 2) for p in ("p50", "p99", "cpu_ms")}
            for name, m in medians.items()
        },
    }


def tables(result: dict[str, Any]) -> list[Table]:
    table = Table(title=f"token checks: {result['tool']} (medians)")
    columns = ("path", "p50 (ms)", "p99 (ms)", "CPU ms/req", "p50 ratio", "p99 ratio", "CPU ratio")
    for column in columns:
        table.add_column(column, justify="right")
    for name, latency in result["latency_ms"].items():
        ratio = result["ratios_to_no_token"][name]
        table.add_row(name, *(f"{latency[k]:.2f}" for k in ("p50", "p99", "cpu_ms")),
                      *(f"{ratio[k]:.2f}" for k in ("p50", "p99", "cpu_ms")))  # fmt: skip
    return [table]
