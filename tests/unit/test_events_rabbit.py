"""services/order_events/rabbit.py without a broker: acks, retries, dead letters, the topology."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pika.exceptions import (
    ChannelClosedByBroker,
    NackError,
    ProbableAuthenticationError,
    StreamLostError,
    UnroutableError,
)
from pika.spec import Basic, BasicProperties

from comms_sandbox import rabbitmq
from order_events import rabbit
from order_events.model import POISON, OrderPlaced, sample_orders
from scenarios.pubsub_rabbitmq.subscribers import more_than_once_by_broker

DEFINITIONS = Path(__file__).resolve().parents[2] / "broker" / "rabbitmq" / "definitions.json"


class FakeChannel:
    """Records what a consumer did with a delivery (ack, reject) or published (dead letters)."""

    def __init__(self) -> None:
        self.is_open = True
        self.acked: list[int] = []
        self.rejected: list[tuple[int, bool]] = []
        self.published: list[dict[str, Any]] = []

    def basic_ack(self, delivery_tag: int) -> None:
        self.acked.append(delivery_tag)

    def basic_reject(self, delivery_tag: int, requeue: bool) -> None:
        self.rejected.append((delivery_tag, requeue))

    def basic_publish(self, exchange: str, routing_key: str, body: bytes, properties: Any,
                      mandatory: bool) -> None:  # fmt: skip
        self.published.append({"exchange": exchange, "body": body, "headers": properties.headers})


def consumer(handled: list[OrderPlaced] | None = None) -> tuple[rabbitmq.Consumer, FakeChannel]:
    seen = handled if handled is not None else []
    c = rabbitmq.Consumer("amqp://unused", rabbit.WORK_QUEUE, "worker-1", handler=seen.append)
    c.dead_letter_channel = FakeChannel()  # type: ignore[assignment]
    return c, FakeChannel()


def deliver(
    c: rabbitmq.Consumer, channel: FakeChannel, body: bytes, tag: int, **props: Any
) -> None:
    method = Basic.Deliver(delivery_tag=tag, routing_key="order.placed.C-001")
    c.handle_delivery(channel, method, BasicProperties(**props), body)  # type: ignore[arg-type]


def test_event_is_handled_then_acked_and_a_duplicate_is_skipped() -> None:
    handled: list[OrderPlaced] = []
    c, channel = consumer(handled)
    event = sample_orders(1)[0]
    deliver(c, channel, event.to_bytes(), 1, message_id=str(event.event_id))
    deliver(c, channel, event.to_bytes(), 2, message_id=str(event.event_id))
    assert handled == [event]
    assert channel.acked == [1, 2]
    assert (c.stats.processed, c.stats.duplicates, c.store.duplicates) == (1, 1, 1)


def test_poison_is_requeued_then_dead_lettered_with_reason_and_attempts() -> None:
    c, channel = consumer()
    for tag, delivered_before in enumerate(range(rabbit.MAX_ATTEMPTS), start=1):
        headers = {rabbit.DELIVERY_COUNT_HEADER: delivered_before} if delivered_before else None
        deliver(c, channel, POISON, tag, message_id="poison-1", headers=headers)
    assert channel.rejected == [(1, True), (2, True)]  # requeued twice
    assert channel.acked == [3]  # acked only once the dead letter was confirmed
    [dead] = c.dead_letter_channel.published  # type: ignore[union-attr]
    assert dead["exchange"] == rabbit.DEAD_LETTER_EXCHANGE
    assert dead["body"] == POISON
    assert dead["headers"][rabbit.ATTEMPTS_HEADER] == rabbit.MAX_ATTEMPTS
    assert "customer_id: Field required" in dead["headers"][rabbit.REASON_HEADER]
    assert dead["headers"][rabbit.QUEUE_HEADER] == rabbit.WORK_QUEUE


def test_attempts_are_counted_without_the_quorum_header() -> None:
    """A classic queue sets no x-delivery-count: the consumer's own count bounds the retries."""
    c, channel = consumer()
    for tag in range(1, rabbit.MAX_ATTEMPTS + 1):
        deliver(c, channel, POISON, tag, message_id="poison-2")
    assert len(channel.rejected) == rabbit.MAX_ATTEMPTS - 1
    assert channel.acked == [rabbit.MAX_ATTEMPTS]
    assert c.stats.dead_lettered == 1


def test_a_failing_handler_requeues_and_a_retry_is_not_a_duplicate() -> None:
    calls: list[OrderPlaced] = []

    def flaky(event: OrderPlaced) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("database busy")

    c, channel = consumer()
    c.handler = flaky
    event = sample_orders(1)[0]
    deliver(c, channel, event.to_bytes(), 1, message_id=str(event.event_id))
    deliver(c, channel, event.to_bytes(), 2, message_id=str(event.event_id))
    assert channel.rejected == [(1, True)]
    assert channel.acked == [2]
    assert (c.stats.processed, c.stats.duplicates) == (1, 0)


def test_dead_letter_publish_failure_keeps_the_message() -> None:
    c, channel = consumer()

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise NackError([])

    c.dead_letter_channel.basic_publish = refuse  # type: ignore[union-attr]
    for tag in range(1, rabbit.MAX_ATTEMPTS):
        deliver(c, channel, POISON, tag, message_id="poison-3")
    with pytest.raises(NackError):
        deliver(c, channel, POISON, rabbit.MAX_ATTEMPTS, message_id="poison-3")
    assert channel.acked == []  # never dropped: back in the queue for another try
    assert channel.rejected[-1] == (rabbit.MAX_ATTEMPTS, True)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (StreamLostError("reset"), True),
        (NackError([]), True),
        (ChannelClosedByBroker(541, "internal error"), True),
        (ChannelClosedByBroker(404, "no exchange"), False),
        (ChannelClosedByBroker(403, "access refused"), False),
        (ProbableAuthenticationError("bad password"), False),
        (UnroutableError([]), False),
        (ValueError("not AMQP"), False),
    ],
)
def test_what_is_worth_retrying(exc: BaseException, expected: bool) -> None:
    assert rabbit.retriable(exc) is expected


def test_routing_key_names_type_and_customer() -> None:
    assert rabbit.routing_key(sample_orders(1)[0]) == "order.placed.C-001"


def test_definitions_hold_the_topology_the_code_names() -> None:
    d = json.loads(DEFINITIONS.read_text())
    queues = {q["name"]: q["arguments"] for q in d["queues"] if q["vhost"] == "sandbox"}
    for queue in (*rabbit.ORDER_QUEUES, rabbit.DEAD_LETTER_QUEUE):
        assert queues[queue]["x-queue-type"] == "quorum", queue  # survives a restart, on disk
    for queue in rabbit.ORDER_QUEUES:
        assert queues[queue]["x-dead-letter-exchange"] == rabbit.DEAD_LETTER_EXCHANGE
        assert queues[queue]["x-delivery-limit"] > rabbit.MAX_ATTEMPTS  # the broker's backstop
    bindings = {(b["source"], b["destination"]) for b in d["bindings"]}
    assert (rabbit.EVENTS_EXCHANGE, rabbit.BROADCAST_EXCHANGE) in bindings
    assert (rabbit.BROADCAST_EXCHANGE, rabbit.NOTIFIER_QUEUE) in bindings
    assert (rabbit.BROADCAST_EXCHANGE, rabbit.AUDITOR_QUEUE) in bindings
    assert (rabbit.EVENTS_EXCHANGE, rabbit.WORK_QUEUE) in bindings
    assert (rabbit.DEAD_LETTER_EXCHANGE, rabbit.DEAD_LETTER_QUEUE) in bindings


def test_definitions_keep_users_least_privilege() -> None:
    d = json.loads(DEFINITIONS.read_text())
    perms = {(p["user"], p["vhost"]): p for p in d["permissions"]}
    app = perms[("sandbox-app", "sandbox")]
    assert app["configure"] == "^amq\\.gen-.*"  # declares nothing but server-named queues
    assert set(perms) == {("sandbox-admin", "sandbox"), ("sandbox-app", "sandbox"),
                          ("sandbox-api", "sandbox"), ("sandbox-relay", "sandbox"),
                          ("sandbox-shipping", "sandbox"), ("sandbox-perf", "perf")}  # fmt: skip
    # A service's own identity: what it does and nothing else (lesson auth).
    for publisher in ("sandbox-api", "sandbox-relay"):
        granted = perms[(publisher, "sandbox")]
        rights = (granted["configure"], granted["read"], granted["write"])
        assert rights == ("^$", "^$", "^sandbox\\.events$"), publisher
    shipping = perms[("sandbox-shipping", "sandbox")]
    assert (shipping["configure"], shipping["write"]) == ("^$", "^$")
    assert shipping["read"] == "^sandbox\\.orders\\.shipping$"
    assert {u["name"]: u["tags"] for u in d["users"]}["sandbox-perf"] == []


def test_once_is_judged_from_the_brokers_deliveries_and_redelivered_flags() -> None:
    first, channel = consumer()
    event = sample_orders(1)[0]
    props = {"message_id": str(event.event_id)}
    deliver(first, channel, event.to_bytes(), 1, **props)
    assert more_than_once_by_broker([first], {str(event.event_id)}) == 0
    # The broker hands the same message out again (a lost ack): the handler's
    # deduplication hides it from the log, but the broker's account shows it.
    second, channel = consumer()
    method = Basic.Deliver(delivery_tag=2, routing_key="order.placed.C-001", redelivered=True)
    second.handle_delivery(channel, method, BasicProperties(**props), event.to_bytes())
    assert second.stats.duplicates == 0  # a store of its own: it processed it again
    assert more_than_once_by_broker([first, second], {str(event.event_id)}) == 1
    assert second.stats.redelivered_ids == {str(event.event_id)}
