"""Tracing off against on, on the default stack's `POST /quotes`: requests/s and p99, as ratios.

`POST /quotes` through nginx (plain HTTP inside the network), the api and
pricing, driven by wrk in the stack's network. Each set-up re-creates the api
and pricing with its SANDBOX_TRACING (compose.yaml's telemetry environment);
rounds alternate, so a machine that gets busier mid-run slows every set-up
alike; medians are reported:
- tracing off: what the default stack and every lesson but observability
  run (no tracing SDK, exporter or instrumentation loaded);
- tracing on, every request: what the observability lesson runs, each span
  exported to its Zipkin;
- tracing on, 10% sampled: parent-based, 1 trace in 10 started at the api
  recorded and exported, the others created but not recorded (how a busy
  production service traces).
Zipkin runs throughout (started if it was not), idle while tracing is off,
so "on" includes what collecting the spans costs this machine's 2 cores.
Afterwards the stack is as it was found: Zipkin stopped again if the
benchmark started it, and the api and pricing re-created with the tracing
that what runs calls for (comms_sandbox.compose.follow_tracing).
The 15% overhead target applies to the sampled set-up.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict
from typing import Any

import httpx
from rich.table import Table

from bench.support.narrate import Verdict, measuring
from comms_sandbox import config
from comms_sandbox.compose import compose, follow_tracing, profile_flags, running_services
from comms_sandbox.wrk import Load, wrk
from proxy.site import INTERNAL_PORT

NAME = "observability"  # python -m bench observability
LESSON = "observability"

URL = f"http://proxy:{INTERNAL_PORT}/quotes"
BODY = json.dumps({"sku": "BOOK-42", "quantity": 2})
SECONDS, CONNECTIONS, ROUNDS = 8, 16, 3
TARGET_OVERHEAD = 0.15
TRACED = ("api", "pricing")  # the services on the path of POST /quotes
BACKEND = "zipkin"
OFF = "tracing off"
EVERY_REQUEST = "tracing on, every request"
SAMPLED = "tracing on, 10% sampled"
SETUPS = {
    OFF: {"SANDBOX_TRACING": "off"},
    EVERY_REQUEST: {"SANDBOX_TRACING": "on", "OTEL_TRACES_SAMPLER": "parentbased_always_on",
                    "OTEL_TRACES_SAMPLER_ARG": "1.0"},
    SAMPLED: {"SANDBOX_TRACING": "on", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
              "OTEL_TRACES_SAMPLER_ARG": "0.1"},
}  # fmt: skip
TARGETED = SAMPLED
STEP_S = SECONDS + 2 + 15  # wrk's run and warm-up, after re-creating the api and pricing


def expected_s() -> float:
    return ROUNDS * len(SETUPS) * STEP_S


def verdicts(result: dict[str, Any]) -> list[Verdict]:
    ratios = result["vs_off"][result["targeted"]]
    return [Verdict(f"{result['targeted']}: within {result['target_overhead']:.0%} of tracing off",
                    meets_target(ratios, result["target_overhead"]),
                    f"req/s {ratios['per_s']}x, p99 {ratios['p99']}x of off")]  # fmt: skip


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


def start_backend() -> bool:
    """Zipkin up (built on first use); True when this call started it."""
    if BACKEND in running_services():
        return False
    result = compose(*profile_flags([BACKEND]), "up", "--detach", "--wait", BACKEND, capture=True)
    if result.returncode != 0:
        raise RuntimeError(f"starting {BACKEND} failed:\n{result.stderr}")
    return True


def restore(started_backend: bool) -> None:
    """The stack as found: Zipkin stopped if we started it, tracing as what runs calls for,
    the sampler back to compose.yaml's default."""
    if started_backend:
        compose(*profile_flags([BACKEND]), "stop", BACKEND, capture=True)
    follow_tracing()


def run() -> dict[str, Any]:
    runs: dict[str, list[Load]] = {name: [] for name in SETUPS}
    started_backend = start_backend()
    try:
        for round_ in range(1, ROUNDS + 1):
            for name, env in SETUPS.items():
                with measuring(name, round_, ROUNDS, STEP_S):
                    set_up(env)
                    runs[name].append(measure())
    finally:
        restore(started_backend)
    return summary({name: _median(loads) for name, loads in runs.items()})


def summary(medians: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The medians, and each tracing set-up against tracing off (ratios)."""
    off = medians[OFF]
    return {
        "tool": f"wrk, {CONNECTIONS} connections, {SECONDS} s x {ROUNDS} rounds, POST /quotes",
        "runs": medians,
        "vs_off": {
            name: {
                "per_s": round(r["requests_per_s"] / off["requests_per_s"], 3),
                "p99": round(r["p99_ms"] / off["p99_ms"], 3),
            }
            for name, r in medians.items()
            if name != OFF
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
    """One table: each set-up's medians beside its ratio to tracing off."""
    table = Table(title=f"the default stack's POST /quotes, tracing off and on: "
                        f"{result['tool']} (medians; target: the sampled set-up's on/off "
                        "within 15%)")  # fmt: skip
    for column in ("", "req/s", "p50 ms", "p99 ms", "errors", "req/s vs off", "p99 vs off",
                   "target"):  # fmt: skip
        table.add_column(column, justify="right")
    for name, r in result["runs"].items():
        ratios = result["vs_off"].get(name)
        target = "-"
        if name == result["targeted"]:
            target = "meets" if meets_target(ratios) else "MISSES"
        table.add_row(
            name, f"{r['requests_per_s']:.0f}", f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}",
            f"{r['errors']:.0f}", f"{ratios['per_s']:.2f}" if ratios else "1",
            f"{ratios['p99']:.2f}" if ratios else "1", target,
        )  # fmt: skip
    return [table]
