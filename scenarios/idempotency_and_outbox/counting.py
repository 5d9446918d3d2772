"""What reached where, counted at the source of truth of each place: PostgreSQL and the brokers.

- stored: the run's rows in sandbox.outbox, read in the postgres container
  with psql (the database has no port on the host);
- RabbitMQ: every message left in the auditor queue (a quorum queue on the
  broadcast exchange that no service consumes), emptied before the run and
  read to the end after it, so messages survive a broker restart in between;
- Kafka: every record of the `orders` topic between the offsets it had
  before the run and its end after it.
Every run uses customers of its own (new_customers), so other traffic in the
same queue or topic is told apart. A copy counts as a duplicate whatever made
it (the relay sending again, the broker redelivering); lost is what was
stored and never arrived.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from comms_sandbox import config, outbox
from comms_sandbox.rabbitmq import purge
from order_events import kafka, rabbit
from order_events.model import InvalidEventError, OrderPlaced

COUNTED_QUEUE = rabbit.AUDITOR_QUEUE
DATABASE = outbox.DATABASE


def new_customers(count: int) -> list[str]:
    """Customer ids no earlier run used: C- and 8 digits, a random 5-digit run prefix."""
    prefix = random.randrange(10_000, 100_000)
    return [f"C-{prefix}{number:03d}" for number in range(1, count + 1)]


@dataclass(frozen=True)
class Delivery:
    """One copy of an event as a broker handed it over; `at_s` is when it was published."""

    event_id: str
    order_id: str
    customer_id: str
    sequence: int
    at_s: float  # epoch seconds: Kafka's record timestamp, RabbitMQ's timestamp property


# --- PostgreSQL ------------------------------------------------------------------------


psql = outbox.psql  # one query in the postgres container (comms_sandbox/outbox.py)


def stored_orders(customers: Sequence[str]) -> list[str]:
    """The ids of the run's orders in sandbox.orders: what the database says exists."""
    query = f"SELECT id FROM sandbox.orders WHERE customer_id IN ({_sql_list(customers)})"
    return psql(query).split()


def stored_events(customers: Sequence[str]) -> list[dict[str, Any]]:
    """The run's outbox rows: event id, customer, when stored, when the storing transaction
    committed, and when each broker confirmed.

    `committed_at` is the commit time PostgreSQL recorded for the transaction that
    inserted the order (track_commit_timestamp, on in compose.yaml): the order's row,
    as the relay's marks give the outbox row new versions. None when not recorded.
    """
    wanted = _sql_list(customers)
    query = (
        "SELECT coalesce(json_agg(json_build_object("
        "'event_id', e.event_id, 'customer_id', e.payload->>'customer_id', "
        "'created_at', extract(epoch FROM e.created_at), "
        "'committed_at', extract(epoch FROM pg_xact_commit_timestamp(o.xmin)), "
        "'rabbitmq_at', extract(epoch FROM e.rabbitmq_published_at), "
        "'kafka_at', extract(epoch FROM e.kafka_published_at)) ORDER BY e.created_at), '[]') "
        "FROM sandbox.outbox e LEFT JOIN sandbox.orders o ON o.id = e.aggregate_id "
        f"WHERE e.payload->>'customer_id' IN ({wanted})"
    )
    return json.loads(psql(query) or "[]")


def pending(customers: Sequence[str]) -> int:
    """The run's rows some broker has not confirmed yet (as the relay recorded it)."""
    return sum(
        1
        for row in stored_events(customers)
        if row["rabbitmq_at"] is None or row["kafka_at"] is None
    )


def _sql_list(customers: Iterable[str]) -> str:
    """'C-1','C-2': the ids go into SQL text, so only what the model's pattern allows."""
    refused = [c for c in customers if not (c.startswith("C-") and c[2:].isdigit())]
    if refused:
        raise ValueError(f"not customer ids: {refused[:3]}")
    return ",".join(f"'{c}'" for c in customers)


# --- RabbitMQ --------------------------------------------------------------------------


def empty_counted_queue() -> int:
    """Empty the counted queue before a run; returns what was dropped."""
    return purge(config.amqp_url(), [COUNTED_QUEUE])[COUNTED_QUEUE]


def rabbitmq_deliveries(customers: Iterable[str], limit: int = 20_000) -> list[Delivery]:
    """Every message in the counted queue, taken and acked, the run's customers' kept."""
    wanted = set(customers)
    found: list[Delivery] = []
    connection = rabbit.connect(config.amqp_url(), "outbox-counter")
    try:
        channel = connection.channel()
        for _ in range(limit):
            method, properties, body = channel.basic_get(COUNTED_QUEUE)
            if method is None:
                break
            channel.basic_ack(method.delivery_tag)
            if (event := _event(body)) and event.customer_id in wanted:
                found.append(_delivery(event, float(properties.timestamp or 0)))
    finally:
        rabbit.close_quietly(connection)
    return found


# --- Kafka -----------------------------------------------------------------------------


def kafka_offsets() -> dict[int, int]:
    """The end offset of each `orders` partition now: where a run's records start."""
    return asyncio.run(_end_offsets())


async def _end_offsets() -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka_bootstrap())
    await consumer.start()
    try:
        partitions = [TopicPartition(kafka.ORDERS_TOPIC, p) for p in range(kafka.ORDERS_PARTITIONS)]
        return {tp.partition: end for tp, end in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()


def kafka_deliveries(start: dict[int, int], customers: Iterable[str]) -> list[Delivery]:
    """Every record from `start` to the current end of each partition, the run's kept."""
    return asyncio.run(_read_kafka(start, set(customers)))


async def _read_kafka(start: dict[int, int], wanted: set[str]) -> list[Delivery]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=config.kafka_bootstrap(), enable_auto_commit=False
    )
    await consumer.start()
    found: list[Delivery] = []
    try:
        partitions = [TopicPartition(kafka.ORDERS_TOPIC, p) for p in start]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, start[tp.partition])
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    if (event := _event(record.value or b"")) and event.customer_id in wanted:
                        found.append(_delivery(event, record.timestamp / 1000))
    finally:
        await consumer.stop()
    return found


def _event(body: bytes) -> OrderPlaced | None:
    try:
        return OrderPlaced.from_bytes(body)
    except InvalidEventError:
        return None  # not an order of this run: another lesson's poison message


def _delivery(event: OrderPlaced, at_s: float) -> Delivery:
    return Delivery(str(event.event_id), event.order_id, event.customer_id, event.sequence, at_s)


# --- judging one broker's side ---------------------------------------------------------


def broker_report(stored: Iterable[str], deliveries: Sequence[Delivery]) -> dict[str, int]:
    """Delivered (stored orders whose event arrived), lost, duplicates, order violations.

    Matched by order id: one OrderPlaced per order, whichever path published it.
    """
    stored_ids = set(stored)
    arrived = {d.order_id for d in deliveries}
    return {
        "delivered": len(stored_ids & arrived),
        "lost": len(stored_ids - arrived),
        "duplicates": len(deliveries) - len(arrived),
        "not_stored": len(arrived - stored_ids),  # arrived, yet no row: must be 0
        "order_violations": order_violations(deliveries),
    }


def order_violations(deliveries: Sequence[Delivery]) -> int:
    """First copies that came after a later event of the same customer (copies are ignored)."""
    last: dict[str, int] = defaultdict(int)
    seen: set[str] = set()
    violations = 0
    for delivery in deliveries:
        if delivery.order_id in seen:
            continue
        seen.add(delivery.order_id)
        violations += delivery.sequence < last[delivery.customer_id]
        last[delivery.customer_id] = max(last[delivery.customer_id], delivery.sequence)
    return violations


def per_second(times_s: Iterable[float], t0: float, seconds: int) -> list[int]:
    """How many of `times_s` fall in each second after t0 (the chart's bins)."""
    bins = [0] * seconds
    for t in times_s:
        index = int(t - t0)
        if 0 <= index < seconds:
            bins[index] += 1
    return bins
