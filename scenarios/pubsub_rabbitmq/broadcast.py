"""Fan-out, competing consumers and the poison message, on the real topology.

Publish first, with nobody consuming (durable queues keep the events for
their subscribers); let a consumer hold a few without acking and give them
back; then start the subscribers and let them drain everything.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pika

from comms_sandbox import rabbitmq
from order_events import rabbit
from order_events.model import POISON, sample_orders
from scenarios.pubsub_rabbitmq import subscribers

EVENTS = 200
PEEK = 5  # messages a consumer holds unacked, then gives back
TIMEOUT_S = 60
POISON_KEY = "order.placed.unknown"


def run(url: str, events: int = EVENTS) -> dict[str, Any]:
    """Publish `events` orders and one poison message, then consume them all; returns metrics."""
    leftovers = rabbitmq.purge(url, (*rabbit.ORDER_QUEUES, rabbit.DEAD_LETTER_QUEUE))
    orders = sample_orders(events)
    with rabbit.Publisher(url, name="pubsub-publisher") as publisher:
        report = publisher.publish_all(orders)
        publisher.publish_body(POISON, POISON_KEY, f"poison-{uuid.uuid4()}")
    stored = rabbitmq.ready_counts(url, rabbit.ORDER_QUEUES)
    peek = hold_and_give_back(url, rabbit.WORK_QUEUE, PEEK)
    groups = subscribers.start(url)
    waited_s = subscribers.wait_until_done(groups, events, dead_letters=1, timeout_s=TIMEOUT_S)
    subscribers.stop(groups)
    dead = rabbitmq.take_dead_letters(
        url, expect=len(groups), timeout_s=5, from_queues=rabbit.ORDER_QUEUES
    )
    after = rabbitmq.ready_counts(url, rabbit.ORDER_QUEUES)
    expected = report.confirmed
    return {
        "published": {
            "events": events,
            "poison": 1,
            "confirmed": len(report.confirmed) + 1,
            "publishes": report.publishes + 1,
            "duration_s": report.duration_s,
            "routing_key_example": rabbit.routing_key(orders[0]),
        },
        "leftovers_purged_before": leftovers,
        "ready_before_consuming": stored,
        "peek": peek,
        "consumed_in_s": waited_s,
        "groups": {role: g.report(expected) for role, g in groups.items()},
        "consumers": [c.stats.to_json() for g in groups.values() for c in g.consumers],
        "dead_letters": [vars(d) for d in dead],
        "ready_after_acks": after,
        "basic_get_after_acks": empty_on_get(url, rabbit.ORDER_QUEUES),
        "prefetch": rabbit.PREFETCH,
        "max_attempts": rabbit.MAX_ATTEMPTS,
    }


def hold_and_give_back(url: str, queue: str, prefetch: int) -> dict[str, Any]:
    """Push in action: a consumer with prefetch N gets N messages without asking for any.

    It never acks them; they stay on the broker as unacked (not ready), and
    come back, flagged redelivered, when its channel closes.
    """
    connection = rabbit.connect(url, "peek-consumer")
    try:
        ready_before = _ready(connection, queue)
        channel = connection.channel()
        channel.basic_qos(prefetch_count=prefetch)
        pushed: list[str | None] = []
        channel.basic_consume(queue, lambda _ch, _m, props, _b: pushed.append(props.message_id))
        deadline = time.monotonic() + 10
        while len(pushed) < prefetch and time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.1)
        connection.process_data_events(time_limit=0.3)  # more would arrive now if it could
        ready_while_held = _ready(connection, queue)
        channel.close()  # no ack: the broker takes them back
        return {
            "queue": queue,
            "prefetch": prefetch,
            "ready_before": ready_before,
            "pushed_without_asking": len(pushed),
            "ready_while_held_unacked": ready_while_held,
            "ready_after_channel_closed": _ready(connection, queue, until=ready_before),
        }
    finally:
        connection.close()


def _ready(connection: pika.BlockingConnection, queue: str, until: int | None = None) -> int:
    """Ready messages in `queue`; with `until`, wait up to 2 s for that count (returns settle)."""
    deadline = time.monotonic() + 2
    channel = connection.channel()
    try:
        while True:
            ready = channel.queue_declare(queue, passive=True).method.message_count
            if until is None or ready == until or time.monotonic() > deadline:
                return ready
            connection.sleep(0.05)
    finally:
        channel.close()


def empty_on_get(url: str, queues: tuple[str, ...]) -> dict[str, bool]:
    """basic_get (pull) on each queue after the acks: True when nothing is left to get."""
    connection = rabbit.connect(url, "after-ack-check")
    try:
        channel = connection.channel()
        found = {}
        for queue in queues:
            method, _, _ = channel.basic_get(queue)
            if method is not None:  # not ours to take: give it back
                channel.basic_nack(method.delivery_tag, requeue=True)
            found[queue] = method is None
        return found
    finally:
        connection.close()


def holds(m: dict[str, Any]) -> dict[str, bool]:
    """Each property the scenario demonstrates, true or false."""
    groups, events = m["groups"], m["published"]["events"]
    dead = m["dead_letters"]
    subscribers_ = [groups["notifier"], groups["auditor"]]
    return {
        "fanout_every_subscriber_every_message": all(
            g["received_unique"] == events and g["lost"] == 0 for g in subscribers_
        ),
        "fanout_per_key_order_kept": all(g["per_key_order_violations"] == 0 for g in subscribers_),
        # Measured from the broker: each delivered exactly once, never flagged redelivered.
        "work_queue_each_message_once": groups["work"]["received_unique"] == events
        and groups["work"]["broker_delivered_more_than_once"] == 0,
        "poison_dead_lettered_with_reason": sorted(d["queue"] for d in dead)
        == sorted(rabbit.ORDER_QUEUES)
        and all(d["reason"] and d["attempts"] == m["max_attempts"] for d in dead),
        "acked_messages_gone": all(n == 0 for n in m["ready_after_acks"].values())
        and all(m["basic_get_after_acks"].values()),
        "push_stops_at_prefetch": m["peek"]["pushed_without_asking"] == m["peek"]["prefetch"]
        and m["peek"]["ready_after_channel_closed"] == m["peek"]["ready_before"],
    }
