"""Publish-subscribe compared: the same orders through RabbitMQ and Kafka, side by side.

The api stores every accepted order (POST /orders) with its event in one
transaction and answers 201; the outbox relay publishes the event to both
brokers after the commit (ORDERS_PUBLISH=dual-write: the api publishes it
and answers 201 only when both confirmed). One subscriber per broker watches:
a RabbitMQ queue of its own on the broadcast exchange, and a Kafka reader of
the `orders` partitions.

What to look at:
- delivery: RabbitMQ pushes to a subscribed consumer; a Kafka consumer pulls
  from an offset it chooses, by long polls the broker answers as soon as
  there is data;
- storage: a RabbitMQ queue hands each message out and deletes it on ack
  (the queue ends empty); Kafka appends to a log and keeps the records after
  they are read, so a second read from the same offsets returns them all;
- ordering: per queue for RabbitMQ, per partition (so per customer key) for
  Kafka; the order violations per customer must be 0 on both;
- lost and duplicate events (0 and 0), and the delay from placing an order
  to each subscriber receiving it.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import httpx
from rich.console import Console

from comms_sandbox import config
from comms_sandbox.health import require_proxy
from comms_sandbox.order_readers import (
    RabbitSubscriber,
    Received,
    kafka_start,
    read_kafka,
)
from order_events.model import OrderPlaced
from scenarios.report import records_table
from scenarios.result import ScenarioResult, all_hold, percentiles_ms

NAME = "pubsub-compare"
# Where `--capture` records its packets (scenarios/capture.py).
CAPTURE_AT = ("rabbitmq", "kafka")
ORDER = 60  # place in the syllabus
# What `make up LESSON=pubsub-compare` starts: POST /orders through the api stores the
# order, the outbox relay publishes it to both brokers (no service depends on the relay
# or the brokers: they are named).
SERVICES = ("proxy", "outbox-relay", "rabbitmq", "kafka-init")
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "services/api/routes/orders.py",
    "services/api/events.py",
    "services/order_events/",
    "broker/rabbitmq/",
    "broker/kafka/",
)
ORDERS = 100
CUSTOMERS = 5
# (RabbitMQ, Kafka) per aspect, printed under the measured rows.
SEMANTICS = {
    "delivery": (
        "push: basic_consume, the broker sends",
        "pull: a long-poll fetch from an offset",
    ),
    "storage": ("a queue: handed out, deleted on ack", "a log: records stay, up to retention"),
    "ordering": ("per queue (one consumer keeps it)", "per partition: a customer's key"),
    "replay": ("no: once acked it is gone", "yes: seek to an offset or a time"),
    "late subscriber": ("only what arrives after its queue exists", "any retained offset"),
}


async def place_orders(keys: list[str]) -> tuple[list[str], int]:
    """An order per key through the proxy, each customer's in sequence; the keys that got 201."""
    accepted: list[str] = []
    refused = 0
    per_customer = len(keys) // CUSTOMERS

    async def customer(client: httpx.AsyncClient, number: int) -> None:
        nonlocal refused
        for sequence in range(1, per_customer + 1):
            key = keys[(number - 1) * per_customer + sequence - 1]
            body = {"customer_id": f"C-{number:03d}", "sequence": sequence, "amount_cents": 100}
            response = await client.post("/orders", json=body, headers={"Idempotency-Key": key})
            if response.status_code == 201:
                accepted.append(key)
            else:
                refused += 1

    async with httpx.AsyncClient(
        base_url=config.proxy_url(), verify=config.tls_context(), timeout=15
    ) as client:
        await asyncio.gather(*(customer(client, n) for n in range(1, CUSTOMERS + 1)))
    return accepted, refused


def order_violations(events: list[OrderPlaced]) -> int:
    """Events that arrived after a later event of the same customer."""
    last: dict[str, int] = defaultdict(int)
    violations = 0
    for event in events:
        violations += event.sequence < last[event.customer_id]
        last[event.customer_id] = max(last[event.customer_id], event.sequence)
    return violations


def side_report(received: Received, accepted: set[str]) -> dict[str, Any]:
    """Judged on this run's own orders only: the subscriber also sees what anything else
    publishes meanwhile (network-faults' orders of customer C-5150, say)."""
    ours = received.only(accepted)
    ids = [str(e.event_id) for e in ours.events]
    return {
        "received": len(set(ids)),
        "lost": len(accepted - set(ids)),
        "duplicates": len(ids) - len(set(ids)),
        "order_violations": order_violations(ours.events),
        "others_seen": len(received.events) - len(ours.events),
        "delay_ms": percentiles_ms(ours.delays_s),
    }


def run() -> ScenarioResult:
    require_proxy()
    start = kafka_start()
    # The idempotency keys become the event ids: both subscribers know what to
    # wait for before the first order is placed, and read while orders flow.
    keys = [str(uuid4()) for _ in range(ORDERS)]
    with RabbitSubscriber() as rabbit_side, ThreadPoolExecutor(1) as kafka_thread:
        kafka_reading = kafka_thread.submit(read_kafka, start, set(keys))
        accepted, refused = asyncio.run(place_orders(keys))
        wanted = set(accepted)
        kafka_received, per_partition = kafka_reading.result()
        _wait_for(rabbit_side, wanted)
    replayed, _ = read_kafka(start, wanted)
    rabbitmq = side_report(rabbit_side.received, wanted) | {
        "left_in_queue_after_ack": rabbit_side.left_in_queue,
    }
    kafka = side_report(kafka_received, wanted) | {
        "per_partition": {str(p): n for p, n in per_partition.items()},
        "replayed_from_same_offsets": len({str(e.event_id) for e in replayed.events}),
    }
    metrics = {"orders": ORDERS, "accepted": len(accepted), "refused": refused,
               "rabbitmq": rabbitmq, "kafka": kafka}  # fmt: skip
    metrics["checks"] = checks(metrics)
    return ScenarioResult(NAME, all_hold(metrics["checks"]), metrics)


def _wait_for(side: RabbitSubscriber, wanted: set[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if wanted <= {str(e.event_id) for e in side.received.events}:
            return
        time.sleep(0.1)


def checks(m: dict[str, Any]) -> dict[str, bool]:
    """Each property the scenario demonstrates, judged from its metrics."""
    every = m["accepted"] == m["orders"]
    found = {"every order accepted (201: stored)": every}
    for broker, label in (("rabbitmq", "RabbitMQ"), ("kafka", "Kafka")):
        side = m[broker]
        found[f"{label}: 0 lost, 0 duplicates, 0 order violations"] = (
            side["lost"] == 0 and side["duplicates"] == 0 and side["order_violations"] == 0
        )
    found["RabbitMQ: the queue is empty after the acks"] = (
        m["rabbitmq"]["left_in_queue_after_ack"] == 0
    )
    found["Kafka: every accepted order read again from the same offsets"] = (
        m["kafka"]["replayed_from_same_offsets"] == m["accepted"]
    )
    return found


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    console.print(
        f"{m['accepted']} of {m['orders']} orders accepted by the api (201: stored), "
        f"{m['refused']} refused"
    )
    rows = [
        {
            "": key,
            "RabbitMQ (pika)": str(m["rabbitmq"][key]),
            "Kafka (aiokafka)": str(m["kafka"][key]),
        }
        for key in ("received", "lost", "duplicates", "order_violations")
    ]
    rows += [
        {"": f"delay {p} (ms)", "RabbitMQ (pika)": str(m["rabbitmq"]["delay_ms"][p]),
         "Kafka (aiokafka)": str(m["kafka"]["delay_ms"][p])}
        for p in ("p50", "p99")
    ]  # fmt: skip
    rows.append({
        "": "after consuming",
        "RabbitMQ (pika)": f"{m['rabbitmq']['left_in_queue_after_ack']} left in the queue",
        "Kafka (aiokafka)": f"{m['kafka']['replayed_from_same_offsets']} read again, same offsets",
    })  # fmt: skip
    rows += [
        {"": k, "RabbitMQ (pika)": r, "Kafka (aiokafka)": k_} for k, (r, k_) in SEMANTICS.items()
    ]
    columns = ("", "RabbitMQ (pika)", "Kafka (aiokafka)")
    console.print(records_table("the same orders, two brokers", rows, columns))
    console.print(f"Kafka records per partition (key = customer): {m['kafka']['per_partition']}")
