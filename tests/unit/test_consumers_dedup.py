"""The consumers in the containers drop an event they already handled (order_events/dedup.py).

The outbox relay delivers at least once: a relay killed after a broker's
confirmation but before its commit sends the event again. shipping
(RabbitMQ) and ledger (Kafka) must then count a duplicate, not act twice.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import pytest
import shipping.__main__ as shipping
from aiokafka.structs import ConsumerRecord
from pika.spec import Basic, BasicProperties
from prometheus_client import REGISTRY

from order_events.dedup import SeenEvents
from order_events.model import OrderPlaced

# shipping and ledger each run in a process of their own, and both name their
# counter orders_consumed: in this one process the second would be refused.
REGISTRY.unregister(shipping.CONSUMED)
ledger = importlib.import_module("ledger.__main__")


def test_an_event_id_is_new_once() -> None:
    seen = SeenEvents()
    assert seen.first_time("a")
    assert not seen.first_time("a")
    assert seen.duplicates == 1


def test_the_store_forgets_the_oldest_past_its_capacity() -> None:
    seen = SeenEvents(capacity=2)
    for event_id in ("a", "b", "c"):
        seen.first_time(event_id)
    assert len(seen) == 2
    assert seen.first_time("a")  # forgotten: bounded memory, not a promise across all time
    assert not seen.first_time("c")


def test_a_store_with_no_room_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SeenEvents(capacity=0)


class Channel:
    def __init__(self) -> None:
        self.acked: list[int] = []
        self.rejected: list[int] = []

    def basic_ack(self, delivery_tag: int) -> None:
        self.acked.append(delivery_tag)

    def basic_reject(self, delivery_tag: int, requeue: bool) -> None:
        self.rejected.append(delivery_tag)


def consumed(outcome: str, broker: str) -> float:
    value = shipping.CONSUMED.labels(broker, outcome)._value.get()  # the process's counter
    return float(value)


def test_shipping_acks_a_duplicate_and_ships_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shipping, "SEEN", SeenEvents())
    event = OrderPlaced(order_id="O-1", customer_id="C-001", sequence=1, amount_cents=100)
    channel = Channel()
    before = consumed("processed", "rabbitmq"), consumed("duplicate", "rabbitmq")
    for tag in (1, 2):
        method = Basic.Deliver(delivery_tag=tag, routing_key="order.placed.C-001")
        shipping.handle(channel, method, BasicProperties(), event.to_bytes())  # type: ignore[arg-type]
    after = consumed("processed", "rabbitmq"), consumed("duplicate", "rabbitmq")
    assert channel.acked == [1, 2]  # the copy is acked too, or the broker sends it forever
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


def record(value: bytes, offset: int) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic="orders", partition=0, offset=offset, timestamp=0, timestamp_type=0, key=b"C-001",
        value=value, checksum=None, serialized_key_size=5, serialized_value_size=len(value),
        headers=(),
    )  # fmt: skip


def test_ledger_books_a_duplicate_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "SEEN", SeenEvents())
    event = OrderPlaced(order_id="O-1", customer_id="C-001", sequence=1, amount_cents=100)
    before = ledger.CONSUMED.labels("kafka", "duplicate")._value.get()
    for offset in (7, 8):
        asyncio.run(ledger.book(record(event.to_bytes(), offset), dead_letters=None))  # type: ignore[arg-type]
    assert ledger.CONSUMED.labels("kafka", "duplicate")._value.get() - before == 1
    assert ledger.SEEN.duplicates == 1


class Backlog:
    """A consumer holding `count` records, then silent; it logs the order of getone and commit."""

    def __init__(self, count: int) -> None:
        event = OrderPlaced(order_id="O-2", customer_id="C-001", sequence=1, amount_cents=100)
        self.records = [record(event.to_bytes(), offset) for offset in range(count)]
        self.log: list[str] = []

    async def getone(self) -> ConsumerRecord[Any, Any]:
        if not self.records:
            await asyncio.sleep(3600)
        self.log.append("record")
        return self.records.pop(0)

    async def commit(self) -> None:
        self.log.append("commit")


def test_the_ledger_commits_a_backlog_in_batches_and_the_tail_once_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ledger, "SEEN", SeenEvents())
    monkeypatch.setattr(ledger, "COMMIT_EVERY", 3)
    monkeypatch.setattr(ledger, "COMMIT_IDLE_S", 0.01)
    backlog = Backlog(count=7)

    async def until_idle() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ledger.consume(backlog, dead_letters=None), 0.5)  # type: ignore[arg-type]

    asyncio.run(until_idle())
    # Never a commit before its records were booked; the last one is not left uncommitted.
    assert backlog.log == ["record"] * 3 + ["commit"] + ["record"] * 3 + ["commit"] + [
        "record", "commit"
    ]  # fmt: skip
