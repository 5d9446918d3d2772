"""Order events on Kafka: an idempotent, keyed publisher (the one the api uses).

Publishing (`OrderPublisher`): acks="all" and enable_idempotence=True, so a
batch the client retries after a lost acknowledgement is written once. The
key is the customer id: one customer's events go to one partition and keep
their order. The value is `OrderPlaced.to_bytes()`; the event id also travels
in a header, so a consumer (or a person with kcat) can deduplicate or trace a
record without parsing it. A send that fails after the client's own retries is
retried here with the same event, hence the same event id.

The consumer-group members live on the host side (comms_sandbox/kafka.py):
in this sandbox only scenarios and tests consume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)
from aiokafka.structs import ConsumerRecord, RecordMetadata
from telemetry.context import REQUEST_ID_HEADER, current_request_id
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from .model import OrderPlaced

log = logging.getLogger(__name__)

# Created by the kafka-init service (broker/kafka/topics.sh, SANDBOX_TOPICS in
# compose.yaml); the broker never creates topics by itself.
ORDERS_TOPIC = "orders"
ORDERS_PARTITIONS = 3
DEAD_LETTER_TOPIC = "orders.dead-letter"
TOPICS = {ORDERS_TOPIC: ORDERS_PARTITIONS, DEAD_LETTER_TOPIC: 1}

EVENT_ID_HEADER = "event_id"
# On a dead letter: why it was refused, where it came from, and which group refused it.
REASON_HEADER = "dead_letter_reason"
SOURCE_HEADER = "dead_letter_source"  # "topic/partition/offset"
GROUP_HEADER = "dead_letter_group"


# The broker and the producer disagree about the producer's sequence numbers
# (seen after a broker restart). The Java client bumps its epoch and goes on;
# aiokafka's sender stops for good (aio-libs/aiokafka#1017), so the publisher
# starts a new producer, with a new producer id, and sends the event again.
PRODUCER_STATE_ERRORS = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
)


def _retriable(exc: BaseException) -> bool:
    # A broker restart also shows up as connection errors and timeouts, which
    # aiokafka does not mark retriable once its own request timeout is spent.
    return isinstance(exc, KafkaError) and (
        exc.retriable
        or isinstance(exc, (KafkaTimeoutError, KafkaConnectionError, *PRODUCER_STATE_ERRORS))
    )


class OrderPublisher:
    """Publishes OrderPlaced events to `orders`, keyed by customer id, acknowledged by all replicas.

    Use it as an async context manager, or call start() and stop().
    `retry_for_s` bounds how long one event is retried (same event id) when
    the broker is unreachable; `request_timeout_ms` is how long one attempt
    waits for the broker before it counts as failed. `retries` counts the
    retries and `producer_resets` the producers replaced after a sequence
    error. A retry by a new producer is a new write for the broker: if the
    first attempt had been written, the event is in the log twice, and
    consumers deduplicate it by event id.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        topic: str = ORDERS_TOPIC,
        retry_for_s: float = 60.0,
        request_timeout_ms: int = 5000,
        **producer_options: Any,
    ) -> None:
        self.topic = topic
        self.retry_for_s = retry_for_s
        self.retries = 0
        self.producer_resets = 0
        self._options = {
            "bootstrap_servers": bootstrap,
            "acks": "all",
            "enable_idempotence": True,
            "request_timeout_ms": request_timeout_ms,
        } | producer_options
        self.producer = AIOKafkaProducer(**self._options)
        self._stale = False  # the producer hit a sequence error: replace it before sending
        self._replacing = asyncio.Lock()  # concurrent publishes replace it once

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def __aenter__(self) -> OrderPublisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def publish(self, event: OrderPlaced) -> RecordMetadata:
        """Send one event and wait until the broker acknowledged it (retrying, same event id)."""
        return await self.publish_raw(
            event.to_bytes(), key=event.customer_id.encode(), event_id=str(event.event_id)
        )

    async def publish_raw(self, value: bytes, *, key: bytes, event_id: str) -> RecordMetadata:
        """Send bytes as they are (e.g. a poison record), with the event and request id headers."""
        headers = [(EVENT_ID_HEADER, event_id.encode())]
        if request_id := current_request_id.get():
            headers.append((REQUEST_ID_HEADER, request_id.encode()))
        return await self.send(self.topic, value, key=key, headers=headers)

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None, headers: Iterable[tuple[str, bytes]]
    ) -> RecordMetadata:
        """Send one record and wait for its acknowledgement, retrying what a restart causes."""
        headers = list(headers)
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_retriable),
            stop=stop_after_delay(self.retry_for_s),
            wait=wait_exponential(multiplier=0.2, max=2),
            before_sleep=self._before_retry,
            reraise=True,
        ):
            with attempt:
                if self._stale:  # inside the attempt: a broker still away is one more retry
                    await self._replace_producer()
                # A fresh list per attempt: tracing appends its traceparent to it.
                return await self.producer.send_and_wait(
                    topic, value, key=key, headers=list(headers)
                )
        raise AssertionError("unreachable: AsyncRetrying either returns or raises")

    def _before_retry(self, state: RetryCallState) -> None:
        self.retries += 1
        error = state.outcome.exception() if state.outcome else None
        log.info("publish retry %d: %r", state.attempt_number, error)
        if isinstance(error, PRODUCER_STATE_ERRORS):
            self._stale = True

    async def _replace_producer(self) -> None:
        async with self._replacing:
            if not self._stale:  # another publish replaced it meanwhile
                return
            with contextlib.suppress(KafkaError):  # the old one's sender already failed
                await self.producer.stop()
            fresh = AIOKafkaProducer(**self._options)
            try:
                await fresh.start()
            except BaseException:
                await fresh.stop()  # still stale: the next attempt tries again
                raise
            self.producer = fresh
            self._stale = False
            self.producer_resets += 1


async def dead_letter(
    publisher: OrderPublisher, record: ConsumerRecord, reason: str, group: str
) -> RecordMetadata:
    """Copy a refused record to the dead-letter topic, with why and where from; wait for the ack."""
    headers = [
        *(record.headers or ()),
        (REASON_HEADER, reason.encode()),
        (SOURCE_HEADER, f"{record.topic}/{record.partition}/{record.offset}".encode()),
        (GROUP_HEADER, group.encode()),
    ]
    return await publisher.send(DEAD_LETTER_TOPIC, record.value, key=record.key, headers=headers)
