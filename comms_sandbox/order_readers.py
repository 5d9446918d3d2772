"""One subscriber per broker, watching the same order events the api publishes.

RabbitMQ: a server-named, exclusive queue bound to the broadcast exchange,
consumed by push (basic_consume): it exists only while this subscriber is
connected, and an acked message is gone. Kafka: no group at all, just a
reader that pulls the `orders` partitions from the offsets they had before
the run: the records stay in the log, and reading them again is a seek.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pika
from aiokafka import AIOKafkaConsumer, TopicPartition

from comms_sandbox import config
from order_events import kafka, rabbit
from order_events.model import InvalidEventError, OrderPlaced


@dataclass
class Received:
    """What one subscriber got, in arrival order, with the delay since each event was placed."""

    events: list[OrderPlaced] = field(default_factory=list)
    delays_s: list[float] = field(default_factory=list)

    def add(self, event: OrderPlaced) -> None:
        self.events.append(event)
        self.delays_s.append((datetime.now(UTC) - event.placed_at).total_seconds())

    def only(self, event_ids: set[str]) -> Received:
        """What it got of these events alone (a RabbitMQ subscriber sees every publisher's;
        the Kafka reader keeps only the wanted ones already)."""
        kept = [(e, d) for e, d in zip(self.events, self.delays_s, strict=True)
                if str(e.event_id) in event_ids]  # fmt: skip
        return Received([e for e, _ in kept], [d for _, d in kept])


class RabbitSubscriber:
    """A temporary queue on the broadcast exchange, consumed on its own thread.

    pika is not thread-safe: the connection lives and dies on that thread.
    """

    def __init__(self) -> None:
        self.received = Received()
        self.queue = ""
        self.left_in_queue: int | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="compare-rabbitmq", daemon=True)

    def __enter__(self) -> RabbitSubscriber:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the RabbitMQ subscriber did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(15)

    def _run(self) -> None:
        connection = pika.BlockingConnection(rabbit.parameters(config.amqp_url(), "pubsub-compare"))
        channel = connection.channel()
        # Server-named and exclusive: the app user may declare only amq.gen-* queues.
        self.queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(self.queue, rabbit.BROADCAST_EXCHANGE)
        channel.basic_qos(prefetch_count=rabbit.PREFETCH)
        channel.basic_consume(self.queue, self._on_message)
        self._ready.set()
        while not self._stop.is_set():
            connection.process_data_events(time_limit=0.1)
        self.left_in_queue = channel.queue_declare(self.queue, passive=True).method.message_count
        connection.close()  # the exclusive queue goes with it

    def _on_message(self, channel, method, _properties, body: bytes) -> None:
        # Not ours to judge here: the order queues' consumers dead-letter invalid events.
        with contextlib.suppress(InvalidEventError):
            self.received.add(OrderPlaced.from_bytes(body))
        channel.basic_ack(method.delivery_tag)


async def kafka_positions() -> dict[int, int]:
    """The end offset of every `orders` partition: where this run's records will start."""
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka_bootstrap())
    await consumer.start()
    try:
        partitions = [TopicPartition(kafka.ORDERS_TOPIC, p) for p in range(kafka.ORDERS_PARTITIONS)]
        ends = await consumer.end_offsets(partitions)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def kafka_read(
    start: dict[int, int], wanted: set[str], timeout_s: float = 30
) -> tuple[Received, dict[int, int]]:
    """Pull from `start` until every wanted event id was seen; records per partition too."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=config.kafka_bootstrap(), enable_auto_commit=False
    )
    await consumer.start()
    received, per_partition = Received(), dict.fromkeys(start, 0)
    try:
        partitions = [TopicPartition(kafka.ORDERS_TOPIC, p) for p in start]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, start[tp.partition])
        deadline = time.monotonic() + timeout_s
        seen: set[str] = set()
        while seen < wanted and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    _keep(record.value, wanted, seen, received)
                    per_partition[tp.partition] += 1
    finally:
        await consumer.stop()
    return received, per_partition


def _keep(value: bytes, wanted: set[str], seen: set[str], received: Received) -> None:
    try:
        event = OrderPlaced.from_bytes(value)
    except InvalidEventError:
        return
    if str(event.event_id) in wanted:
        seen.add(str(event.event_id))
        received.add(event)


def read_kafka(start: dict[int, int], wanted: set[str]) -> tuple[Received, dict[int, int]]:
    return asyncio.run(kafka_read(start, wanted))


def kafka_start() -> dict[int, int]:
    return asyncio.run(kafka_positions())
