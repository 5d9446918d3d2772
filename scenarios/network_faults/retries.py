"""Retries done wrong and right against a failing dependency, measured at the dependency.

The fault: pricing's answers are 1 s late (Toxiproxy's latency on them)
while api-faults gives each call 0.5 s, so every call reaches pricing, which
does the work, and times out. "naive" tries again at once, up to 4 attempts;
"on" does not retry a timeout (the time is spent), retries only what a new
attempt can fix, within a 10% budget, behind a breaker.
"""

from __future__ import annotations

import time
from typing import Any

from comms_sandbox import proxy_log, toxiproxy
from scenarios import narration
from scenarios.network_faults.client import calls_at_pricing, fault, timed_post, use_policy

CALLS = 6
QUOTE = {"sku": "BOOK-42", "quantity": 1}
# Enough bytes for the HTTP/2 preface and settings, not for an answer (the breaker part).
CUT_ANSWERS = ("limit_data", {"bytes": 64})
LATE_ANSWERS = ("latency", {"latency": 1000})


def failing_calls(label: str) -> list[dict[str, Any]]:
    kind, attributes = LATE_ANSWERS
    late = toxiproxy.toxic("pricing", "late-answers", kind, attributes)
    with fault(f"pricing's answers {attributes['latency']} ms late", late):
        return [timed_post("/quotes", QUOTE, label) for _ in range(CALLS)]


def run() -> dict[str, Any]:
    results = {}
    try:
        for policy in ("on", "naive"):  # "on" first: api-faults starts with it
            use_policy(policy)
            calls = failing_calls(f"retry-{policy}")
            with narration.waiting("pricing's log lines written", proxy_log.FLUSH_S):
                time.sleep(proxy_log.FLUSH_S)
            at_pricing = calls_at_pricing([c["request_id"] for c in calls])
            results[policy] = {
                "calls": len(calls),
                "statuses": sorted({c["status"] for c in calls}),
                "calls_at_pricing": sum(at_pricing.values()),
                "amplification": round(sum(at_pricing.values()) / len(calls), 2),
            }
            narration.seen(f"retries {policy!r}: {len(calls)} requests, "
                           f"{sum(at_pricing.values())} calls at pricing "
                           f"({results[policy]['amplification']}x)")  # fmt: skip
    finally:
        use_policy("on")  # as compose.yaml has it
    shown = {policy: results[policy] for policy in ("naive", "on")}  # wrong way first
    return {"policies": shown, "holds": holds(shown)}


def holds(results: dict[str, dict[str, Any]]) -> dict[str, bool]:
    """Naive retries multiply the load; budgeted ones, behind the breaker, add at most a fifth.

    Naive attempts 4 times, and pricing handles each (about 4 calls a request).
    """
    return {
        "naive_retries_multiply_the_load": results["naive"]["amplification"] >= 3,
        "budgeted_retries_do_not": results["on"]["amplification"] <= 1.2,
        "every_failed_call_is_a_5xx_not_a_hang": all(
            status in (502, 503, 504) for r in results.values() for status in r["statuses"]
        ),
    }
