"""Confirmed publishing and manually acknowledged consuming on the RabbitMQ cluster.

The publisher waits for each message's confirm (the queue's majority has it
on disk for a quorum queue); the consumer acks each message after recording
it. Both run in their own thread with their own connection, to a node the
lesson does not touch, and time every confirm and every delivery.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pika
from pika.exceptions import AMQPChannelError, AMQPConnectionError

from comms_sandbox import clusters
from order_events.rabbit import close_quietly, connect
from scenarios import narration

# A killed node makes pika log every broken connection; the lesson reports results instead.
logging.getLogger("pika").setLevel(logging.CRITICAL)

# A quorum queue with a member on each of the three nodes.
QUORUM_ARGUMENTS = {"x-queue-type": "quorum", "x-quorum-initial-group-size": 3}
# Once the run is over, a consumer that keeps failing gives up after this many errors.
CONSUMER_ERRORS_AFTER_DONE = 20


@dataclass
class Traffic:
    """Message ids confirmed by the broker, and delivered to the consumer, with their times."""

    started: float = field(default_factory=time.monotonic)  # times count from here
    confirmed: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    delivered: list[tuple[str, float]] = field(default_factory=list)
    consumer_errors: Counter[str] = field(default_factory=Counter)  # by exception name

    def now(self) -> float:
        return round(time.monotonic() - self.started, 3)

    def check(self) -> dict[str, Any]:
        received = {message_id for message_id, _ in self.delivered}
        lost = sorted(set(self.confirmed) - received)
        return {"confirmed": len(self.confirmed), "failed": len(self.failed),
                "failed_because": dict(Counter(self.failed.values())),
                "delivered": len(self.delivered), "lost": len(lost), "lost_examples": lost[:5],
                "redelivered": len(self.delivered) - len(received),
                "consumer_errors": dict(self.consumer_errors),
                "publish_stalled_s": longest_gap(sorted(self.confirmed.values()))}  # fmt: skip


def longest_gap(times: list[float]) -> float:
    return round(max((b - a for a, b in itertools.pairwise(times)), default=0.0), 2)


def declare(node: clusters.Node, queue: str, arguments: dict[str, Any]) -> None:
    """A fresh durable queue, declared through `node` (a classic queue lives there)."""
    connection = connect(clusters.amqp_url(node), "lesson-clusters-declare", retry_for_s=10)
    try:
        channel = connection.channel()
        channel.queue_delete(queue)
        channel.queue_declare(queue, durable=True, arguments=arguments)
    finally:
        close_quietly(connection)


def publish(node: clusters.Node, queue: str, count: int, rate: float, traffic: Traffic) -> None:
    """count persistent messages at about rate per second, each confirmed before the next.

    A publish that fails (the connection or channel closed, blocked too long) is
    counted as failed, never as confirmed, and the publisher connects again and
    goes on with the next message, as an application would: one failure early
    must not leave the run with nothing confirmed to check."""
    connection = None
    load = narration.load(f"{queue} via {node.service}", count / rate, total=count)
    try:
        with load as counts:
            for n in range(count):
                message_id = f"m{n}"
                try:
                    if connection is None or connection.is_closed:
                        connection, channel = _confirming_channel(node)
                    properties = pika.BasicProperties(delivery_mode=2, message_id=message_id)
                    channel.basic_publish("", queue, message_id.encode(), properties,
                                          mandatory=True)  # fmt: skip
                    traffic.confirmed[message_id] = traffic.now()
                except (AMQPChannelError, AMQPConnectionError) as error:
                    traffic.failed[message_id] = type(error).__name__
                    close_quietly(connection)
                    connection = None
                counts.update(sent=n + 1, answered=len(traffic.confirmed),
                              failed=len(traffic.failed))  # fmt: skip
                time.sleep(max(0.0, (n + 1) / rate - traffic.now()))
    finally:
        close_quietly(connection)


def _confirming_channel(node: clusters.Node) -> tuple[pika.BlockingConnection, Any]:
    connection = connect(clusters.amqp_url(node), "lesson-clusters-publisher", retry_for_s=10)
    channel = connection.channel()
    channel.confirm_delivery()
    return connection, channel


def consume(node: clusters.Node, queue: str, traffic: Traffic, done: threading.Event) -> None:
    """Deliveries, acked one by one, until `done` is set and nothing came for a second.

    A closed connection or channel (the node it runs on restarting, say) is counted in
    traffic.consumer_errors and the consumer connects again, as an application's would:
    a consumer that quietly died would make every confirmed message look lost."""
    while not _consume_until_quiet(node, queue, traffic, done):
        time.sleep(0.5)


def _consume_until_quiet(
    node: clusters.Node, queue: str, traffic: Traffic, done: threading.Event
) -> bool:
    """One connection's worth of consume(): True once finished (quiet after `done`, or
    failing on after it), False when it broke off with an error and should go on."""
    connection = None
    try:
        connection = connect(clusters.amqp_url(node), "lesson-clusters-consumer", retry_for_s=10)
        channel = connection.channel()
        channel.basic_qos(prefetch_count=50)
        quiet_since = time.monotonic()
        for method, properties, _ in channel.consume(queue, inactivity_timeout=0.2):
            if method is not None:
                traffic.delivered.append((properties.message_id, traffic.now()))
                channel.basic_ack(method.delivery_tag)
                quiet_since = time.monotonic()
            elif done.is_set() and time.monotonic() - quiet_since > 1.0:
                break
        channel.cancel()
    except (AMQPChannelError, AMQPConnectionError) as error:
        traffic.consumer_errors[type(error).__name__] += 1
        return done.is_set() and traffic.consumer_errors.total() > CONSUMER_ERRORS_AFTER_DONE
    finally:
        close_quietly(connection)
    return True
