"""Network faults: latency, cut connections and partitions, and what keeps the system standing.

Toxiproxy (its proxies: compose.yaml and toxiproxy.json, beside this file)
sits between `api-faults` (the api, published on 127.0.0.1:8086) and
pricing, RabbitMQ, Kafka and PostgreSQL. Each part adds its fault through Toxiproxy's
API, measures what the client, the dependency and the brokers saw, and
removes the fault, also when it stops early.

What to look at:
- deadlines: 1 s of latency on pricing's answers against api-faults' 0.5 s
  deadline: 504 in about 0.5 s, not a hang; pricing saw the deadline arrive
  with the call (its log: deadline_ms);
- retries: pricing's answers cut off; immediate retries multiply the calls
  pricing handles per request (about 4x), retries with backoff, jitter
  and a 10% budget behind a breaker do not (counted in pricing's own log);
- the circuit breaker over time: closed, open (a 503 in the time of the
  HTTP round trip, no call made), half-open probes, closed again once healed;
- cut and throttled broker connections, and a partition from RabbitMQ:
  refusals are 503s naming the broker, every accepted order reaches both
  brokers, and orders go through again with no one acting;
- a partition from the database: 503s naming it within the pool's 1 s wait,
  and nothing half-written (PostgreSQL holds exactly the orders answered 201,
  each with its outbox row; no broker carried an event of a refused one);
- a slow consumer: RabbitMQ's prefetch bounds what it holds while the queue
  grows and drains; Kafka's lag grows and drains back to 0.
"""

from __future__ import annotations

from typing import Any

from comms_sandbox import toxiproxy
from comms_sandbox.health import require_lesson_service
from scenarios.network_faults import (
    backpressure,
    breaker,
    connections,
    database,
    deadlines,
    partition,
    retries,
)
from scenarios.network_faults.render import render
from scenarios.result import ScenarioResult, from_parts, run_part

NAME = "network-faults"
# Where `--capture` records its packets (scenarios/capture.py).
CAPTURE_AT = ("toxiproxy",)
ORDER = 95  # place in the syllabus
# What `make up LESSON=network-faults` starts (Compose adds pricing, the brokers).
SERVICES = ("toxiproxy", "api-faults")
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "comms_sandbox/toxiproxy.py",
    "services/api/resilience.py",
    "services/api/pricing_client.py",
)
PARTS = {
    "deadlines": deadlines.run,
    "retries": retries.run,
    "breaker": breaker.run,
    "connections": connections.run,
    "partition": partition.run,
    "database": database.run,
    "backpressure": backpressure.run,
}

__all__ = ["NAME", "ORDER", "SERVICES", "render", "run", "where"]


def where() -> list[tuple[str, str]]:
    return [("Toxiproxy's API", f"{toxiproxy.api_url()}/proxies")]


def run() -> ScenarioResult:
    """Every part, each between a clean start and a clean end; then what was left configured."""
    require_lesson_service("Toxiproxy", toxiproxy.answers, NAME)
    results: dict[str, Any] = {}
    for name, part in PARTS.items():
        with toxiproxy.clean():
            results[name] = run_part(name, part)
    results["left_configured"] = toxiproxy.leftovers()
    clean = {"no fault left configured": results["left_configured"] == []}
    return from_parts(NAME, results, PARTS, clean)
