"""ledger: consumes every order from Kafka (topic `orders`, group `ledger`) and books it.

The observability lesson's Kafka end. aiokafka's instrumentation ends its
receive span as soon as getone() returns, so the booking gets a span of its
own, started from the record's trace context: a child of the api's send span,
in the order's one trace, and linked to it too, as the messaging conventions
ask of a process span (a link still holds where a parent cannot: a batch, a
record read long after). A record that is not an OrderPlaced goes to the
`orders.dead-letter` topic with the reason. An order booked before (same
event_id: the outbox relay or a publisher sent it again) is counted as a
duplicate and not booked twice (order_events/dedup.py).

It also measures its group's lag from the broker, every few seconds: the
committed offset (OffsetFetch) against the log end (ListOffsets), per
partition, as `kafka_consumergroup_lag` on :9464/metrics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import telemetry
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry import propagate, trace
from prometheus_client import Counter, Gauge
from telemetry.heartbeat import beat
from telemetry.links import creation_links

from order_events.dedup import SeenEvents
from order_events.kafka import ORDERS_TOPIC, OrderPublisher, dead_letter
from order_events.model import InvalidEventError, OrderPlaced

log = logging.getLogger("ledger")
tracer = trace.get_tracer("ledger")

GROUP = "ledger"
LAG_EVERY_S = 2.0
# Offsets are committed after booking (at least once), but not one round trip per
# record: a backlog of thousands (the ledger was stopped while other lessons
# published) would take minutes. Every COMMIT_EVERY records, and as soon as no
# record arrives for COMMIT_IDLE_S; a crash redelivers at most that many, which
# the event-id dedup drops.
COMMIT_EVERY = 200
COMMIT_IDLE_S = 0.2
SEEN = SeenEvents()
CONSUMED = Counter(
    "orders_consumed", "Order messages this consumer finished", ["broker", "outcome"]
)
LAG = Gauge(
    "kafka_consumergroup_lag",
    "Records in the log not yet committed by the group, per partition (asked of the broker)",
    ["group", "topic", "partition"],
)


def _headers(record: ConsumerRecord) -> dict[str, str]:
    return {key: value.decode("ascii", errors="replace") for key, value in record.headers or ()}


async def book(record: ConsumerRecord, dead_letters: OrderPublisher) -> None:
    headers = _headers(record)
    parent = propagate.extract(headers)
    links = creation_links(headers.items())
    with (
        tracer.start_as_current_span(
            f"{record.topic} process", context=parent, links=links
        ) as span,
        telemetry.bound_request_id(headers.get(telemetry.REQUEST_ID_HEADER)) as request_id,
    ):
        span.set_attribute(telemetry.REQUEST_ID_TAG, request_id)
        span.set_attribute("messaging.kafka.offset", record.offset)
        try:
            order = OrderPlaced.from_bytes(record.value or b"")
        except InvalidEventError as exc:
            await dead_letter(dead_letters, record, str(exc), GROUP)
            log.warning("dead-lettered", extra={"fields": {"reason": str(exc)[:200]}})
            CONSUMED.labels("kafka", "dead-lettered").inc()
            return
        if not SEEN.first_time(str(order.event_id)):
            log.info("duplicate dropped", extra={"fields": {"order_id": order.order_id}})
            CONSUMED.labels("kafka", "duplicate").inc()
            return
        log.info(
            "booked order",
            extra={"fields": {
                "order_id": order.order_id, "amount_cents": order.amount_cents,
                "partition": record.partition, "offset": record.offset,
            }},
        )  # fmt: skip
        CONSUMED.labels("kafka", "processed").inc()


async def measure_lag(consumer: AIOKafkaConsumer) -> None:
    """The group's lag per partition, from the broker, forever; each answer is a heartbeat."""
    while True:
        try:
            partitions = [
                TopicPartition(ORDERS_TOPIC, p)
                for p in sorted(consumer.partitions_for_topic(ORDERS_TOPIC) or ())
            ]
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                committed = await consumer.committed(tp) or 0
                LAG.labels(GROUP, tp.topic, str(tp.partition)).set(max(0, ends[tp] - committed))
            beat()
        except KafkaError as exc:
            log.warning("lag not measured", extra={"fields": {"reason": type(exc).__name__}})
        await asyncio.sleep(LAG_EVERY_S)


async def consume(consumer: AIOKafkaConsumer, dead_letters: OrderPublisher) -> None:
    """Book every record, committing in batches (see COMMIT_EVERY), forever."""
    booked = 0  # since the last commit
    while True:
        try:
            # getone, not getmany: the instrumentation gives each record its own
            # receive span in the order's trace (getmany adds two root spans a poll).
            wait = COMMIT_IDLE_S if booked else None
            record = await asyncio.wait_for(consumer.getone(), wait)
        except TimeoutError:
            await consumer.commit()
            booked = 0
            continue
        await book(record, dead_letters)
        booked += 1
        if booked >= COMMIT_EVERY:
            await consumer.commit()
            booked = 0


async def run(bootstrap: str) -> None:
    consumer = AIOKafkaConsumer(
        ORDERS_TOPIC,
        bootstrap_servers=bootstrap,
        group_id=GROUP,
        client_id=f"ledger-{socket.gethostname()}",
        enable_auto_commit=False,  # committed after booking (consume): at least once
        auto_offset_reset="earliest",
    )
    dead_letters = OrderPublisher(bootstrap, retry_for_s=30)
    await consumer.start()
    await dead_letters.start()
    lag = asyncio.create_task(measure_lag(consumer))
    log.info("consuming", extra={"fields": {"topic": ORDERS_TOPIC, "group": GROUP}})
    try:
        await consume(consumer, dead_letters)
    finally:
        lag.cancel()
        await consumer.stop()
        await dead_letters.stop()


def main() -> None:
    if telemetry.setup("ledger"):
        # Only when tracing is on: off, no instrumentation module is loaded.
        from telemetry.messaging import instrument_aiokafka  # noqa: PLC0415

        instrument_aiokafka()
    asyncio.run(run(os.environ["LEDGER_KAFKA_BOOTSTRAP"]))


if __name__ == "__main__":
    main()
