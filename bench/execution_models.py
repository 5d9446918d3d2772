"""Scaling out that shows: 1, 2 and 3 replicas at half a core each, behind nginx.

Without a CPU budget every replica shares the same 2 cores, and 3 replicas
do no more than 1 (the load-balancing benchmark sees 0.74 to 0.99). With
`cpus: 0.5` each (compose.yaml's exec-budget: the lesson's async app), one
replica is bounded by its budget, and adding replicas adds budget until the
machine's cores, shared with nginx and the load generator, run out. The
requests are CPU-bound (/cpu, about 10 ms of Python each), so the replicas'
budget, not nginx or wrk, is what each request spends.

wrk (in its own container, on the `back` network) drives GET /budget/cpu
through nginx's plain internal port for SECONDS per step; rounds interleave
the steps; medians. Also: the cores each step used, from the replicas' and
nginx's cgroups.
"""

from __future__ import annotations

import statistics
from typing import Any

from rich.table import Table

from bench.support.narrate import Verdict, measuring
from bench.support.report import right_aligned
from comms_sandbox import cgroups, docker, wrk
from comms_sandbox.compose import restart_proxy
from proxy.execution_models import BUDGET_PREFIX, BUDGET_SERVICE
from proxy.site import INTERNAL_PORT

NAME = "execution-models"  # python -m bench execution-models
LESSON = "execution-models"

REPLICAS = (1, 2, 3)
SECONDS = 6
ROUNDS = 2
CONNECTIONS = 16
TARGET_AT_3 = 2.4
URL = f"http://proxy:{INTERNAL_PORT}{BUDGET_PREFIX}cpu?rounds=100000"
STEP_S = SECONDS + 10  # wrk's run, and scaling and restarting nginx before it


def expected_s() -> float:
    return ROUNDS * len(REPLICAS) * STEP_S


def verdicts(result: dict[str, Any]) -> list[Verdict]:
    at_3 = result["ratios_to_one"]["3"]
    return [Verdict(f"3 replicas serve at least {TARGET_AT_3}x one", result["met"],
                    f"{at_3}x one")]  # fmt: skip


def cores_used(containers: list[str], seconds: float, before: dict[str, float]) -> float:
    return round(sum(cgroups.cpu_seconds(c) - before[c] for c in containers) / seconds, 2)


def one_step(replicas: int) -> dict[str, float]:
    docker.scale(BUDGET_SERVICE, replicas)
    restart_proxy()  # nginx looks the replicas up afresh
    names = [c.name for c in docker.containers(BUDGET_SERVICE) if c.state == "running"]
    proxy = docker.containers("proxy")[0].name
    before = {c: cgroups.cpu_seconds(c) for c in [*names, proxy]}
    load = wrk.wrk(URL, seconds=SECONDS, connections=CONNECTIONS, threads=2, cpus="0,1")
    elapsed = SECONDS  # the containers idle while wrk's own starts and stops
    return {
        "per_s": load.requests_per_s,
        "p99_ms": round(load.p99_ms, 1),
        "errors": load.errors,
        "replica_cores": cores_used(names, elapsed, before),
        "nginx_cores": cores_used([proxy], elapsed, before),
    }


def run() -> dict[str, Any]:
    wrk.build_image()
    runs: dict[int, list[dict[str, float]]] = {n: [] for n in REPLICAS}
    try:
        for round_ in range(1, ROUNDS + 1):
            for replicas in REPLICAS:
                with measuring(f"{replicas} replicas", round_, ROUNDS, STEP_S):
                    runs[replicas].append(one_step(replicas))
    finally:
        docker.scale(BUDGET_SERVICE, 1)
    steps = {n: {k: round(statistics.median(r[k] for r in rs), 2) for k in rs[0]}
             for n, rs in runs.items()}  # fmt: skip
    base = steps[1]["per_s"]
    ratios = {n: round(s["per_s"] / base, 2) for n, s in steps.items()}
    return {
        "tool": f"wrk, {CONNECTIONS} connections, {SECONDS} s per step, {ROUNDS} rounds; "
        "replicas at cpus 0.5 each, /cpu (about 10 ms of Python)",
        "steps": {str(n): s for n, s in steps.items()},
        "ratios_to_one": {str(n): r for n, r in ratios.items()},
        "target_at_3": TARGET_AT_3,
        "met": ratios[3] >= TARGET_AT_3,
        "flattens_after": flattens_after(ratios),
    }


def flattens_after(ratios: dict[int, float]) -> int:
    """The last replica count whose added replica still brought most (0.7) of one's worth."""
    last = 1
    for n in sorted(ratios)[1:]:
        if ratios[n] - ratios[n - 1] < 0.7:
            break
        last = n
    return last


def tables(result: dict[str, Any]) -> list[Table]:
    table = right_aligned(f"CPU-budgeted replicas through nginx: {result['tool']} (medians)",
                          "replicas", "per s", "x one", "p99 (ms)", "replica cores",
                          "nginx cores")  # fmt: skip
    for n, s in result["steps"].items():
        table.add_row(n, f"{s['per_s']:.0f}", f"{result['ratios_to_one'][n]:.2f}",
                      f"{s['p99_ms']:.1f}", f"{s['replica_cores']:.2f}",
                      f"{s['nginx_cores']:.2f}")  # fmt: skip
    verdict = "met" if result["met"] else "NOT met"
    summary = right_aligned(f"target: 3 replicas >= {result['target_at_3']}x one: {verdict}; "
                            f"each added replica pays off up to {result['flattens_after']}",
                            "")  # fmt: skip
    return [table, summary]
