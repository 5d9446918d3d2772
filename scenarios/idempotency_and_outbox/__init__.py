"""Idempotency keys and the transactional outbox: retries with no duplicate, events never lost.

Orders live in PostgreSQL (sandbox.orders). POST /orders writes the order
and its OrderPlaced event (sandbox.outbox) in one transaction; the relay
(services/outbox_relay, two replicas) publishes pending events to RabbitMQ
and Kafka and marks each row per broker once that broker confirmed it.
Everything is counted where it ends up: rows in PostgreSQL (psql), messages
in RabbitMQ's auditor queue, records in Kafka's `orders` topic.

What to look at:
- idempotency: an answer cut after the commit (Toxiproxy's limit_data on
  the answers, the lesson's own Toxiproxy on 127.0.0.1:8087): retried
  without a key, every attempt is a row (duplicates); with an
  Idempotency-Key, one row, and the retry gets the first answer marked
  Idempotent-Replayed; the same key with another body 422, the same key
  while its first request is in flight 409;
- relay and broker faults: orders keep coming while every relay is
  SIGKILLed mid-batch, then Kafka is stopped: the api answers 201 throughout,
  every stored order reaches both brokers (0 lost), copies are counted, and
  RabbitMQ keeps receiving while Kafka is down (the chart);
- competing relays: two replicas let go on one backlog at once: FOR UPDATE
  SKIP LOCKED gives each row to one of them: 0 copies, each customer's
  orders in order;
- the dual write (ORDERS_PUBLISH=dual-write, the old path) with Kafka
  stopped: orders stored and in RabbitMQ, missing from Kafka, and a 503 to
  the client; once back on the outbox, the relay publishes what was missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from comms_sandbox import toxiproxy
from comms_sandbox.health import require_lesson_service, require_proxy
from comms_sandbox.ports import ORDERS_TOXIPROXY
from scenarios.idempotency_and_outbox import idempotency, outbox
from scenarios.idempotency_and_outbox.render import render
from scenarios.result import ScenarioResult, from_parts, run_parts

NAME = "idempotency-and-outbox"
ORDER = 75  # place in the syllabus: after publish-subscribe and sidecars, before gRPC
# What `make up LESSON=idempotency-and-outbox` starts; Compose adds PostgreSQL, the
# migrations and the api. The brokers are named: nothing here depends on them (the api
# only commits, and the relay must run while one is down), yet the lesson counts in them.
SERVICES = ("proxy", "outbox-relay", "toxiproxy-orders", "rabbitmq", "kafka-init")
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "services/api/routes/orders.py",
    "services/api/idempotency.py",
    "services/orders_db/",
    "services/outbox_relay/",
    "services/order_events/dedup.py",
    "comms_sandbox/toxiproxy.py",
    "scenarios/charts.py",
    "tests/integration/test_orders.py",
)


def faults() -> dict[str, Any]:
    m = outbox.relay_and_broker_faults(broker="kafka")
    return {**m, "holds": outbox.fault_checks(m)}


def competing() -> dict[str, Any]:
    m = outbox.competing_relays()
    return {**m, "holds": outbox.competing_checks(m)}


def dual_write() -> dict[str, Any]:
    m = outbox.dual_write_cut(broker="kafka")
    return {**m, "holds": outbox.dual_write_checks(m)}


# The dual write goes last: it re-creates the api and the relay twice.
PARTS: dict[str, Callable[[], dict[str, Any]]] = {
    "idempotency": idempotency.run,
    "relay and broker faults": faults,
    "competing relays": competing,
    "dual write": dual_write,
}

__all__ = ["NAME", "ORDER", "SERVICES", "render", "run", "where"]


def where() -> list[tuple[str, str]]:
    return [
        ("the api through the lesson's Toxiproxy", f"{idempotency.cut_api_url()}/orders"),
        ("that Toxiproxy's API", f"{toxiproxy.api_url(ORDERS_TOXIPROXY)}/proxies"),
        ("the outbox (psql)", "docker compose exec postgres psql -U postgres -d sandbox "
                              "-c 'TABLE sandbox.outbox'"),
    ]  # fmt: skip


def run() -> ScenarioResult:
    require_proxy()
    require_lesson_service("The lesson's Toxiproxy", idempotency.answers, NAME)
    results = run_parts(PARTS)  # each part narrated as it starts, its checks as it ends
    return from_parts(NAME, results, PARTS)
