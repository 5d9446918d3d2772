"""Reliability: a bounded stream of events while the broker restarts; nothing acknowledged is lost.

EVENTS events, paced at RATE_PER_S, each acknowledged by the broker
(acks=all) before the next is sent, so one customer's events stay in order
even across retries. After RESTART_AT acknowledgements the Kafka container
is killed (SIGKILL, a crash: no clean shutdown, no flush), then started; sends that
fail meanwhile are retried with the same event, hence the same event id.
One group member consumes throughout and reconnects by itself.

Lost means acknowledged but never consumed, and must be 0. A retry whose
first attempt did reach the log writes the event twice: the consumer sees
the event id again and counts a duplicate instead of processing it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaError

from comms_sandbox import docker
from comms_sandbox.kafka_offsets import Inspector
from order_events import kafka as events
from order_events.model import OrderPlaced, sample_orders
from scenarios.pubsub_kafka.groups import Group, order_violations

EVENTS = 600
RATE_PER_S = 100
RESTART_AT = 200
CUSTOMERS = 10
RETRY_FOR_S = 120  # per event: longer than any restart, so nothing is given up
CATCH_UP_TIMEOUT_S = 90


def kafka_container() -> str:
    (container,) = docker.containers("kafka")
    return container.name


class Restart:
    """Crashes the broker's container (SIGKILL), starts it, records when it was healthy again."""

    def __init__(self, name: str, t0: float) -> None:
        self.name = name
        self.t0 = t0
        self.events: dict[str, float] = {}

    def _mark(self, what: str) -> None:
        self.events[what] = round(time.monotonic() - self.t0, 3)

    def __call__(self) -> None:
        self._mark("restart_sent")
        docker.kill(self.name)
        docker.start(self.name)
        self._mark("container_started")
        docker.wait_healthy(self.name, timeout_s=120)
        self._mark("healthy")


async def run(inspector: Inspector, run_id: str) -> dict[str, Any]:
    name = kafka_container()
    start = await inspector.log_end(events.ORDERS_TOPIC)
    group_id = f"pubsub-kafka-{run_id}-reliability"
    await inspector.seed(group_id, events.ORDERS_TOPIC, start)
    try:
        return await _stream(inspector.bootstrap, group_id, name)
    finally:
        await asyncio.to_thread(_ensure_healthy, name)


@dataclass
class Sent:
    """What the publisher knows: acknowledged, given up, how long acks took."""

    acknowledged: set[str] = field(default_factory=set)
    gave_up: list[dict[str, str]] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    duration_s: float = 0.0


async def _stream(bootstrap: str, group_id: str, name: str) -> dict[str, Any]:
    orders = sample_orders(EVENTS, customers=CUSTOMERS)
    # A short request timeout, so that failed sends reach this code and its
    # retries (same event) rather than waiting inside the client.
    publisher = events.OrderPublisher(bootstrap, retry_for_s=RETRY_FOR_S, request_timeout_ms=3000)
    async with publisher, events.OrderPublisher(bootstrap) as dead_letters:
        group = Group(group_id, bootstrap, dead_letters)
        try:
            await group.add("consumer-1")
            restart = Restart(name, time.monotonic())
            sent = await _send(publisher, orders, restart)
            with contextlib.suppress(TimeoutError):  # what is missing is reported as lost
                await group.wait_until(
                    lambda: sent.acknowledged <= {d.event_id for d in group.deliveries},
                    CATCH_UP_TIMEOUT_S,
                )
        finally:
            await group.close()
    return _report(orders, sent, group, restart, publisher)


async def _send(
    publisher: events.OrderPublisher, orders: list[OrderPlaced], restart: Restart
) -> Sent:
    """One at a time, each acknowledged before the next; the restart starts after RESTART_AT."""
    sent = Sent()
    restarting: asyncio.Task[None] | None = None
    try:
        for n, order in enumerate(orders):
            await asyncio.sleep(max(0.0, restart.t0 + n / RATE_PER_S - time.monotonic()))
            if n == RESTART_AT:
                restarting = asyncio.create_task(asyncio.to_thread(restart))
            started = time.monotonic()
            try:
                await publisher.publish(order)
            except KafkaError as exc:  # retried for RETRY_FOR_S: the client knows it failed
                sent.gave_up.append({"event_id": str(order.event_id), "error": repr(exc)})
                continue
            sent.latencies_s.append(time.monotonic() - started)
            sent.acknowledged.add(str(order.event_id))
        sent.duration_s = round(time.monotonic() - restart.t0, 3)
    finally:
        if restarting is not None:
            await restarting
    return sent


def _report(
    orders: list[OrderPlaced],
    sent: Sent,
    group: Group,
    restart: Restart,
    publisher: events.OrderPublisher,
) -> dict[str, Any]:
    received = {d.event_id for d in group.deliveries}
    lost = sent.acknowledged - received
    restarted_mid_stream = (
        "healthy" in restart.events and restart.events["restart_sent"] < sent.duration_s
    )
    return {
        "events": EVENTS,
        "rate_per_s": RATE_PER_S,
        "restart_after_sent": RESTART_AT,
        "container": restart.name,
        "timeline_s": restart.events | {"stream_done": sent.duration_s},
        "acknowledged": len(sent.acknowledged),
        "gave_up": len(sent.gave_up),
        "gave_up_examples": sent.gave_up[:3],
        "publish_retries": publisher.retries,
        "producer_resets": publisher.producer_resets,
        "slowest_ack_s": round(max(sent.latencies_s, default=0.0), 3),
        "received_unique": len(received),
        "lost": len(lost),
        "lost_examples": sorted(lost)[:3],
        "duplicates": group.dedupe.duplicates,
        "received_but_not_acknowledged": len(received - sent.acknowledged),
        "order_violations": len(order_violations(group.deliveries)),
        "consumer": group.stats()["consumer-1"],
        "holds": not lost and len(sent.acknowledged) == len(orders) and restarted_mid_stream,
    }


def _ensure_healthy(name: str) -> None:
    """Whatever happened, leave the broker running and healthy for whoever comes next.

    kafka-init's healthcheck asks the broker for the topics, so it failed
    during the restart too: wait until it says healthy again.
    """
    if any(c.name == name and c.state != "running" for c in docker.containers("kafka")):
        docker.start(name)
    docker.wait_healthy(name, timeout_s=120)
    for init in docker.containers("kafka-init"):
        docker.wait_healthy(init.name, timeout_s=60)
