"""A slow consumer: the broker holds the backlog, not the consumer's memory.

RabbitMQ: a consumer with prefetch 10 that takes 20 ms a message, fed 300
messages at full speed. Sampled every 0.2 s: the messages it holds unacked
(at most the prefetch: the broker stops pushing) and the queue's depth
(passive declare, from the broker), which grows and then drains.
Kafka: a group that reads 50 records a second, fed 300 at once; its lag
(committed offset against the log end, asked of the broker) grows, then
drains to 0.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import pika
from aiokafka import AIOKafkaConsumer, TopicPartition

from comms_sandbox import config
from comms_sandbox.kafka_offsets import Inspector
from order_events import kafka as events_kafka
from order_events import rabbit
from order_events.model import sample_orders
from scenarios import narration

MESSAGES = 300
PREFETCH = 10
HANDLE_S = 0.02
SAMPLE_S = 0.2
KAFKA_RATE_PER_S = 50
TELL_EVERY = 5  # samples: the narration tells one a second


def run() -> dict[str, Any]:
    rabbitmq = rabbitmq_backlog()
    kafka = asyncio.run(kafka_lag())
    return {"rabbitmq": rabbitmq, "kafka": kafka, "holds": holds(rabbitmq, kafka)}


def rabbitmq_backlog() -> dict[str, Any]:
    url, key = config.amqp_url(), f"faults.backpressure.{uuid.uuid4().hex[:8]}"
    consumer = SlowConsumer(url, key)
    consumer.start()
    narration.step(f"{MESSAGES} messages published at full speed to a consumer with prefetch "
                   f"{PREFETCH} taking {HANDLE_S * 1000:.0f} ms each")  # fmt: skip
    with rabbit.Publisher(url, name="faults-backpressure") as publisher:
        for n in range(MESSAGES):
            publisher.publish_body(b"{}", key, f"bp-{n}")  # routed only to our queue
    with narration.waiting("the queue drained by the slow consumer", MESSAGES * HANDLE_S * 1.5):
        samples = consumer.wait_until_drained(timeout_s=MESSAGES * HANDLE_S * 3 + 10)
    return {
        "prefetch": PREFETCH,
        "handled": consumer.handled,
        "max_held_unacked": max(s["held"] for s in samples),
        "max_depth": max(s["depth"] for s in samples),
        "final_depth": samples[-1]["depth"],
        "samples": samples,
    }


class SlowConsumer:
    """A server-named queue bound to our routing key, consumed slowly on its own thread."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.handled, self.held = 0, 0
        self.samples: list[dict[str, Any]] = []
        self._ready, self._done = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="slow-consumer")

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the slow consumer did not start")

    def wait_until_drained(self, timeout_s: float) -> list[dict[str, Any]]:
        self._done.wait(timeout_s)
        self._thread.join(5)
        return self.samples

    def _run(self) -> None:
        connection = rabbit.connect(self.url, "faults-slow-consumer")
        try:
            channel = connection.channel()
            queue = channel.queue_declare("", exclusive=True).method.queue
            channel.queue_bind(queue, rabbit.EVENTS_EXCHANGE, routing_key=self.key)
            channel.basic_qos(prefetch_count=PREFETCH)
            inspector = connection.channel()
            deliveries: list[int] = []
            channel.basic_consume(queue, lambda ch, m, p, b: deliveries.append(m.delivery_tag))
            self._ready.set()
            started, last_sample = time.monotonic(), 0.0
            while self.handled < MESSAGES:
                connection.process_data_events(time_limit=0)
                if deliveries:
                    time.sleep(HANDLE_S)  # the slow part
                    channel.basic_ack(deliveries.pop(0))
                    self.handled += 1
                now = time.monotonic()
                if now - last_sample >= SAMPLE_S:
                    depth = inspector.queue_declare(queue, passive=True).method.message_count
                    self.samples.append({"t_s": round(now - started, 2), "depth": depth,
                                         "held": len(deliveries)})  # fmt: skip
                    if len(self.samples) % TELL_EVERY == 1:
                        narration.seen(f"queue depth {depth}, {len(deliveries)} held unacked "
                                       f"by the consumer, {self.handled} handled")  # fmt: skip
                    last_sample = now
            depth = inspector.queue_declare(queue, passive=True).method.message_count
            self.samples.append({"t_s": round(time.monotonic() - started, 2), "depth": depth,
                                 "held": len(deliveries)})  # fmt: skip
        except pika.exceptions.AMQPError:
            pass
        finally:
            self._done.set()
            rabbit.close_quietly(connection)


async def kafka_lag() -> dict[str, Any]:
    bootstrap, group = config.kafka_bootstrap(), f"faults-slow-{uuid.uuid4().hex[:8]}"
    topic = events_kafka.ORDERS_TOPIC
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False, auto_offset_reset="latest")  # fmt: skip
    await consumer.start()
    try:
        await _assigned(consumer)
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        for tp in partitions:  # commit where we stand, so lag counts from here
            await consumer.seek_to_end(tp)
            await consumer.commit({tp: await consumer.position(tp)})
        narration.step(f"{MESSAGES} records published at once to a group reading "
                       f"{KAFKA_RATE_PER_S} a second")  # fmt: skip
        async with events_kafka.OrderPublisher(bootstrap) as publisher:
            for event in sample_orders(MESSAGES):
                await publisher.publish(event)
        async with Inspector(bootstrap) as inspector:
            expected_s = MESSAGES / KAFKA_RATE_PER_S
            with narration.waiting("the group's lag back to 0", expected_s):
                samples = await _drain_slowly(consumer, inspector, group)
        return {"max_lag": max(s["lag"] for s in samples), "final_lag": samples[-1]["lag"],
                "samples": samples}  # fmt: skip
    finally:
        await consumer.stop()


async def _drain_slowly(
    consumer: AIOKafkaConsumer, inspector: Inspector, group: str
) -> list[dict[str, Any]]:
    """Read about KAFKA_RATE_PER_S records a second; sample the group's lag until it is 0."""
    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    while True:
        lag = sum((await inspector.lag(group, events_kafka.ORDERS_TOPIC)).values())
        samples.append({"t_s": round(time.monotonic() - started, 2), "lag": lag})
        if len(samples) % TELL_EVERY == 1 or lag == 0:
            narration.seen(f"the group's lag: {lag}")
        if lag == 0 or time.monotonic() - started > MESSAGES / KAFKA_RATE_PER_S + 20:
            return samples
        batch = await consumer.getmany(timeout_ms=200, max_records=int(KAFKA_RATE_PER_S / 5))
        if batch:
            await consumer.commit()
        await asyncio.sleep(0.2)


async def _assigned(consumer: AIOKafkaConsumer, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not consumer.assignment() and time.monotonic() < deadline:
        await consumer.getmany(timeout_ms=200)


def holds(rabbitmq: dict[str, Any], kafka: dict[str, Any]) -> dict[str, bool]:
    return {
        "rabbitmq_unacked_bounded_by_prefetch": rabbitmq["max_held_unacked"] <= PREFETCH,
        "rabbitmq_queue_grew_then_drained": rabbitmq["max_depth"] > PREFETCH * 2
        and rabbitmq["final_depth"] == 0
        and rabbitmq["handled"] == MESSAGES,
        "kafka_lag_grew_then_drained": kafka["max_lag"] > KAFKA_RATE_PER_S
        and kafka["final_lag"] == 0,
    }
