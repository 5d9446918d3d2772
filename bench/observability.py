"""Tracing on versus off on the request-response path: requests/s and p99, as ratios.

`POST /quotes` through nginx (plain HTTP inside the network), the api and
pricing, driven by wrk in the stack's network, on the machine's 2 cores
shared with Zipkin. Three set-ups, the api and pricing re-created for each,
rounds alternating, medians reported:
- off: OTEL_SDK_DISABLED=true (no tracer provider, no instrumentation);
- 10% sampled: parent-based, 1 trace in 10 started at the api, every span of
  a sampled trace exported, the others created but not recorded (how a busy
  production service traces);
- every request: the lesson's default, so a learner finds any request.
The 15% overhead target applies to the sampled set-up; the every-request
figure says what tracing everything costs on this machine.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict
from typing import Any

import httpx
from rich.table import Table

from comms_sandbox import config
from comms_sandbox.compose import compose
from comms_sandbox.wrk import Load, wrk
from proxy.site import INTERNAL_PORT

NAME = "observability"  # python -m bench observability
LESSON = "observability"

URL = f"http://proxy:{INTERNAL_PORT}/quotes"
BODY = json.dumps({"sku": "BOOK-42", "quantity": 2})
SECONDS, CONNECTIONS, ROUNDS = 8, 16, 3
TARGET_OVERHEAD = 0.15
TRACED = ("api", "pricing")
SETUPS = {
    "tracing off": {"OTEL_SDK_DISABLED": "true"},
    "tracing on, 10% sampled": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                                "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "tracing on, every request": {},  # compose.yaml's defaults
}  # fmt: skip
TARGETED = "tracing on, 10% sampled"


def set_up(env: dict[str, str]) -> None:
    """Re-create the api and pricing with `env`, and wait until quotes go through again."""
    result = compose(
        "up", "--detach", "--no-deps", "--force-recreate", "--wait", *TRACED,
        capture=True, env=env,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"re-creating {TRACED} failed:\n{result.stderr}")
    wait_until_quotes_answer()


def wait_until_quotes_answer(in_a_row: int = 20, timeout_s: float = 60) -> None:
    """New pricing replicas have new addresses: the api's gRPC channels reconnect first."""
    deadline, good = time.monotonic() + timeout_s, 0
    with httpx.Client(base_url=config.proxy_url(), verify=config.tls_context(), timeout=5) as c:
        while good < in_a_row and time.monotonic() < deadline:
            ok = c.post("/quotes", json=json.loads(BODY)).status_code == 200
            good = good + 1 if ok else 0
            if not ok:
                time.sleep(0.5)


def measure() -> Load:
    wrk(URL, seconds=2, connections=CONNECTIONS, json_body=BODY)  # warm-up: connections, caches
    return wrk(URL, seconds=SECONDS, connections=CONNECTIONS, json_body=BODY)


def run() -> dict[str, Any]:
    runs: dict[str, list[Load]] = {name: [] for name in SETUPS}
    try:
        for _ in range(ROUNDS):
            for name, env in SETUPS.items():
                set_up(env)
                runs[name].append(measure())
    finally:
        set_up({})  # as compose.yaml has it
    medians = {name: _median(loads) for name, loads in runs.items()}
    off = medians["tracing off"]
    return {
        "tool": f"wrk, {CONNECTIONS} connections, {SECONDS} s x {ROUNDS} rounds, POST /quotes",
        "runs": medians,
        "vs_off": {
            name: {
                "per_s": round(r["requests_per_s"] / off["requests_per_s"], 3),
                "p99": round(r["p99_ms"] / off["p99_ms"], 3),
            }
            for name, r in medians.items()
            if name != "tracing off"
        },
        "targeted": TARGETED,
        "target_overhead": TARGET_OVERHEAD,
    }


def _median(loads: list[Load]) -> dict[str, float]:
    return {
        field: round(statistics.median(asdict(load)[field] for load in loads), 2)
        for field in ("requests_per_s", "p50_ms", "p99_ms", "errors")
    }


def meets_target(ratios: dict[str, float], limit: float = TARGET_OVERHEAD) -> bool:
    """Throughput within 15% of tracing off, and p99 at most 15% above it."""
    return ratios["per_s"] >= 1 - limit and ratios["p99"] <= 1 + limit


def tables(result: dict[str, Any]) -> list[Table]:
    table = Table(title=f"tracing on versus off: {result['tool']} (medians)")
    for column in ("", "requests/s", "p50 (ms)", "p99 (ms)", "errors"):
        table.add_column(column, justify="right")
    for name, r in result["runs"].items():
        table.add_row(name, f"{r['requests_per_s']:.0f}", f"{r['p50_ms']:.1f}",
                      f"{r['p99_ms']:.1f}", f"{r['errors']:.0f}")  # fmt: skip
    ratios = Table(title="on / off (target: within 15%, for the sampled set-up)")
    for column in ("", "requests/s", "p99", "target"):
        ratios.add_column(column, justify="right")
    for name, r in result["vs_off"].items():
        target = ("meets" if meets_target(r) else "MISSES") if name == result["targeted"] else "-"
        ratios.add_row(name, f"{r['per_s']:.2f}", f"{r['p99']:.2f}", target)
    return [table, ratios]
