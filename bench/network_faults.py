"""Resilience settings under a slow dependency: /quotes with 100 ms more on pricing's answers.

wrk in the stack's network against api-faults, whose pricing calls cross
Toxiproxy with 100 ms of latency (and 50 ms of jitter) on every answer;
resilience "off" (one attempt) against "on" (budgeted retries, breaker),
rounds alternating, medians. Reported: requests/s, p99 and the share of
requests answered 2xx, and on/off as ratios.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from rich.table import Table

from bench.support.narrate import measuring
from comms_sandbox import toxiproxy
from comms_sandbox.compose import compose, profile_flags
from comms_sandbox.wrk import Load, wrk
from scenarios.network_faults import SERVICES
from scenarios.network_faults.client import use_policy

NAME = "network-faults"  # python -m bench network-faults
LESSON = "network-faults"

URL = "http://api-faults:8000/quotes"
BODY = json.dumps({"sku": "BOOK-42", "quantity": 1})
SECONDS, CONNECTIONS, ROUNDS = 8, 16, 2
LATENCY = {"latency": 100, "jitter": 50}
POLICIES = ("off", "on")


def expected_s() -> float:
    return ROUNDS * len(POLICIES) * (SECONDS + 5)


def measure() -> dict[str, float]:
    load: Load = wrk(URL, seconds=SECONDS, connections=CONNECTIONS, json_body=BODY)
    requests = max(1.0, load.requests_per_s * SECONDS)
    return {"requests_per_s": load.requests_per_s, "p99_ms": load.p99_ms,
            "success": round(1 - load.errors / requests, 4)}  # fmt: skip


def start_lesson() -> None:
    """Toxiproxy and api-faults sit behind the lesson's profile: start them if they are not."""
    result = compose(*profile_flags(SERVICES), "up", "--detach", "--wait", *SERVICES,
                     capture=True)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"starting {SERVICES} failed:\n{result.stderr}")


def run() -> dict[str, Any]:
    start_lesson()
    runs: dict[str, list[dict[str, float]]] = {policy: [] for policy in POLICIES}
    try:
        for round_ in range(1, ROUNDS + 1):
            for policy in POLICIES:
                with measuring(f"resilience {policy}", round_, ROUNDS, SECONDS + 5):
                    use_policy(policy)
                    with toxiproxy.clean(), toxiproxy.toxic("pricing", "slow", "latency", LATENCY):
                        runs[policy].append(measure())
    finally:
        use_policy("on")  # as compose.yaml has it
    medians = {p: {k: round(statistics.median(r[k] for r in rs), 4) for k in rs[0]}
               for p, rs in runs.items()}  # fmt: skip
    off, on = medians["off"], medians["on"]
    return {
        "tool": f"wrk, {CONNECTIONS} connections, {SECONDS} s x {ROUNDS} rounds, "
        f"pricing +{LATENCY['latency']} ms (jitter {LATENCY['jitter']})",
        "runs": medians,
        "on_vs_off_p99": round(on["p99_ms"] / off["p99_ms"], 3),
        "on_vs_off_success": round(on["success"] / off["success"], 3) if off["success"] else None,
    }


def tables(result: dict[str, Any]) -> list[Table]:
    table = Table(title=f"/quotes with a slow pricing: {result['tool']} (medians)")
    for column in ("resilience", "requests/s", "p99 (ms)", "2xx share"):
        table.add_column(column, justify="right")
    for policy, r in result["runs"].items():
        table.add_row(policy, f"{r['requests_per_s']:.0f}", f"{r['p99_ms']:.1f}",
                      f"{r['success']:.2%}")  # fmt: skip
    table.add_row("on / off", "", f"{result['on_vs_off_p99']:.2f}",
                  f"{result['on_vs_off_success']}")  # fmt: skip
    return [table]
