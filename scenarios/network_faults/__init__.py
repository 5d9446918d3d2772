"""Network faults (in progress): latency past a deadline, and a partition from a broker.

Toxiproxy (faults/README.md) sits between `api-faults` and pricing,
RabbitMQ and Kafka. Each part adds its fault through Toxiproxy's API, measures
what the client and the dependency saw, and removes the fault, also when it
stops early (`toxiproxy.clean()`).

Parts so far:
- deadlines: 3 s of latency on pricing's answers, a 2 s deadline in the api:
  /quotes answers 504 in about 2 s instead of hanging, and pricing saw the
  deadline (grpc-timeout) arrive with the call;
- partition: RabbitMQ unreachable for a few seconds: POST /orders answers
  503 naming the broker, every accepted order reaches both brokers, and
  orders succeed again after the partition heals, with no one acting.
Not yet: retries and their amplification, a circuit breaker, reset and
slow-close on broker connections, a slow consumer's backpressure, charts.
"""

from __future__ import annotations

from typing import Any

from comms_sandbox import toxiproxy
from comms_sandbox.health import SandboxNotUpError
from scenarios.network_faults import deadlines, partition

SERVICES = ("toxiproxy", "api-faults")


def require_toxiproxy() -> None:
    if not toxiproxy.answers():
        raise SandboxNotUpError(
            "Toxiproxy does not answer: start the faults services with "
            "`docker compose --profile faults up -d --wait toxiproxy api-faults`."
        )


def run_parts() -> dict[str, Any]:
    """Every part, each between a clean start and a clean end; what was left configured."""
    require_toxiproxy()
    results: dict[str, Any] = {}
    for name, part in (("deadlines", deadlines.run), ("partition", partition.run)):
        with toxiproxy.clean():
            results[name] = part()
    results["left_configured"] = toxiproxy.leftovers()
    return results
