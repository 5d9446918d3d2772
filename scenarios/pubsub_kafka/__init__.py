"""Publish-subscribe on Kafka: one log, consumer groups, offsets, replay, dead letters.

A producer appends OrderPlaced events to the topic `orders` (3 partitions,
key = customer id, idempotent, acks=all). Consumers pull from it in groups:
within a group each partition has one owner (queue semantics: each record
goes to one member), and every group gets every record (publish-subscribe).
Consuming moves only the group's committed offset; the records stay in the
log until retention removes them, so any reader can replay them.

What to look at:
- the published records wait in the log with no consumer running: each
  group's lag (end offset minus committed offset) is the whole batch;
- queue group: two members split the 3 partitions (2 + 1, no partition
  shared, none left out); a third member joining and the first leaving each
  trigger a rebalance (the group stalls briefly) and processing goes on:
  every event processed, 0 lost, per-customer order kept (0 violations);
- fanout group: a single subscriber receives every event as well, at its
  own offsets: its lag is still the whole batch after the queue group is done;
- replay from the earliest offset reads this run's records again (and
  earlier runs'), and from a timestamp (offsets_for_times) only the later half;
- the poison record lands in `orders.dead-letter`, once per group, with the
  validation error in a header; its offset is committed, lag ends at 0;
- reliability: a paced stream while the broker restarts; sends that fail are
  retried with the same event id; acknowledged-but-never-consumed must be 0,
  and a retried send that had in fact been written shows as a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from comms_sandbox.kafka_offsets import Inspector, named
from order_events import kafka as events
from scenarios import narration
from scenarios.pubsub_kafka import reliability, replay, semantics
from scenarios.pubsub_kafka.render import render
from scenarios.pubsub_kafka.verdicts import verdicts
from scenarios.result import ScenarioResult, all_hold

NAME = "pubsub-kafka"
# Where `--capture` records its packets (scenarios/capture.py).
CAPTURE_AT = ("kafka",)
ORDER = 50  # place in the syllabus
# What `make up LESSON=pubsub-kafka` starts: Kafka and the job that creates its topics.
SERVICES = ("kafka-init",)
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "broker/kafka/",
    "images/kafka/",
    "services/order_events/model.py",
    "services/order_events/kafka.py",
    "comms_sandbox/kafka.py",
    "tests/integration/test_kafka.py",
)
PARTS = ("semantics", "reliability")

__all__ = ["NAME", "PARTS", "render", "run", "verdicts"]


def run(parts: tuple[str, ...] = PARTS) -> ScenarioResult:
    """Run the chosen parts against the running sandbox; reliability restarts the broker."""
    with _quiet_client_logs():
        metrics = asyncio.run(_run(parts))
    metrics["checks"] = verdicts(metrics)
    return ScenarioResult(NAME, all_hold(metrics["checks"]), metrics)


async def _run(parts: tuple[str, ...]) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    metrics: dict[str, Any] = {"run_id": run_id}
    async with Inspector() as inspector:
        if "semantics" in parts:
            with narration.part("semantics"):
                published, metrics["semantics"] = await semantics.run(inspector, run_id)
            with narration.part("replay"):
                metrics["replay"] = await replay.run(inspector, published)
            metrics["retention"] = {
                "log_start_before": named(published.log_start),
                "log_start_after": named(await inspector.log_start(events.ORDERS_TOPIC)),
            }
        if "reliability" in parts:
            with narration.part("reliability"):
                metrics["reliability"] = await reliability.run(inspector, run_id)
    return metrics


@contextmanager
def _quiet_client_logs() -> Iterator[None]:
    """aiokafka logs every reconnect while the broker restarts; the report says what matters."""
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
