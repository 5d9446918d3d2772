"""RabbitMQ from the host: consumers that ack by hand, dead-letter readers, queue counts.

The publisher is the api's own (services/order_events/rabbit.py, imported by its one
name, order_events.rabbit); this module is what only scenarios, tests and benchmarks
need.

Consumer: push (basic_consume) with a prefetch limit (basic_qos) and manual
acks, sent only after the handler returned. The event_id is the idempotency
key: a redelivered or re-published event is acked, counted as a duplicate and
not processed again. A message that cannot be processed is rejected and
requeued up to MAX_ATTEMPTS times; then the consumer publishes it to the
dead-letter exchange with the reason and the attempt count in its headers
(confirmed), and only then acks it: never silently dropped.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPChannelError, AMQPConnectionError, ConsumerCancelled
from pika.spec import Basic, BasicProperties

from order_events.model import InvalidEventError, OrderPlaced
from order_events.rabbit import (
    ATTEMPTS_HEADER,
    CONSUMER_HEADER,
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_QUEUE,
    DELIVERY_COUNT_HEADER,
    MAX_ATTEMPTS,
    PREFETCH,
    QUEUE_HEADER,
    REASON_HEADER,
    close_quietly,
    connect,
    retriable,
)

Handler = Callable[[OrderPlaced], None]


class Idempotency:
    """The event ids one subscriber has processed: its idempotency store.

    Shared by the competing consumers of one queue, so a redelivery that lands
    on another consumer is still recognised. In a real service this is a table
    with a unique key, written in the same transaction as the work.
    """

    def __init__(self) -> None:
        self._done: set[str] = set()
        self._failures: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.duplicates = 0

    @property
    def processed(self) -> int:
        return len(self._done)

    def claim(self, key: str) -> bool:
        """True the first time `key` comes (process it); False for a duplicate, counted."""
        with self._lock:
            if key in self._done:
                self.duplicates += 1
                return False
            self._done.add(key)
            return True

    def release(self, key: str) -> None:
        """Processing failed: let a redelivery of `key` try again."""
        with self._lock:
            self._done.discard(key)

    def record_failure(self, key: str) -> int:
        """Count one failed delivery of `key`; returns how many failed so far."""
        with self._lock:
            self._failures[key] += 1
            return self._failures[key]

    def failures(self, key: str) -> int:
        with self._lock:
            return self._failures[key]


@dataclass
class ConsumerStats:
    """What one consumer saw; processed_ids in the order it processed them."""

    consumer: str
    queue: str
    deliveries: int = 0  # pushed by the broker, redeliveries included
    processed: int = 0
    duplicates: int = 0
    redelivered: int = 0  # deliveries the broker flagged as redelivered
    requeued: int = 0  # rejected back to the queue after a failed attempt
    dead_lettered: int = 0
    reconnects: int = 0  # sessions lost (connection, channel, consumer), then consumed again
    last_error: str | None = None
    processed_ids: list[str] = field(default_factory=list)
    # The broker's own account, per message id: how often it delivered each,
    # and which it flagged as redelivered (it had handed them out before).
    deliveries_by_id: Counter[str] = field(default_factory=Counter)
    redelivered_ids: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        """The counts, without the per-message records."""
        per_message = {"processed_ids", "deliveries_by_id", "redelivered_ids"}
        return {k: v for k, v in asdict(self).items() if k not in per_message}


class Consumer:
    """Consumes one queue on its own connection and thread, reconnecting until stopped."""

    def __init__(
        self,
        url: str,
        queue: str,
        name: str,
        *,
        handler: Handler | None = None,
        store: Idempotency | None = None,
        prefetch: int = PREFETCH,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.url = url
        self.queue = queue
        self.name = name
        self.handler = handler or (lambda _event: None)
        self.store = store or Idempotency()
        self.prefetch = prefetch
        self.max_attempts = max_attempts
        self.stats = ConsumerStats(name, queue)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dead_letter_channel: BlockingChannel | None = None

    def start(self) -> Consumer:
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10) -> None:
        """Cancel and disconnect; messages pushed but not yet handled go back to the queue."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run(self) -> None:
        """Consume until stop(); a lost connection means reconnect and consume again."""
        while not self._stop.is_set():
            try:
                self._session()
            except (AMQPConnectionError, AMQPChannelError) as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                if not retriable(exc) or self._stop.is_set():
                    return
                self.stats.reconnects += 1
                self._stop.wait(0.2)
            except Exception as exc:  # a bug, not the network: say so, and stop consuming
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                raise

    def _session(self) -> None:
        connection = connect(self.url, self.name, stop=self._stop)
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=self.prefetch)
            self.dead_letter_channel = connection.channel()
            self.dead_letter_channel.confirm_delivery()
            channel.basic_consume(self.queue, self.handle_delivery)
            while not self._stop.is_set():
                connection.process_data_events(time_limit=0.1)
                if not channel.consumer_tags:  # the broker cancelled us (queue deleted...)
                    raise ConsumerCancelled(f"{self.queue}: consumer cancelled by the broker")
        finally:
            close_quietly(connection)

    def handle_delivery(
        self,
        channel: BlockingChannel,
        method: Basic.Deliver,
        properties: BasicProperties,
        body: bytes,
    ) -> None:
        self.stats.deliveries += 1
        self.stats.redelivered += bool(method.redelivered)
        if properties.message_id:
            self.stats.deliveries_by_id[properties.message_id] += 1
            if method.redelivered:
                self.stats.redelivered_ids.add(properties.message_id)
        try:
            event = OrderPlaced.from_bytes(body)
        except InvalidEventError as exc:
            self._failed(channel, method, properties, body, str(exc))
            return
        key = str(event.event_id)
        if not self.store.claim(key):
            self.stats.duplicates += 1
            channel.basic_ack(method.delivery_tag)  # already done: ack, do not redo
            return
        try:
            self.handler(event)
        except Exception as exc:  # any handler failure is a failed attempt, never a loss
            self.store.release(key)
            self._failed(channel, method, properties, body, f"{type(exc).__name__}: {exc}")
            return
        self.stats.processed += 1
        self.stats.processed_ids.append(key)
        channel.basic_ack(method.delivery_tag)  # only now may the broker forget it

    def _failed(
        self,
        channel: BlockingChannel,
        method: Basic.Deliver,
        properties: BasicProperties,
        body: bytes,
        reason: str,
    ) -> None:
        """Requeue for another attempt, or dead-letter it after max_attempts."""
        key = properties.message_id or hashlib.sha256(body).hexdigest()
        attempt = self._attempt(key, properties)
        self.store.record_failure(key)
        if attempt < self.max_attempts:
            self.stats.requeued += 1
            # reject, not nack: from RabbitMQ 4.3 only a reject counts as a
            # failed delivery in x-delivery-count (3.x to 4.2 count both).
            channel.basic_reject(method.delivery_tag, requeue=True)
            return
        try:
            self._dead_letter(method, properties, body, reason, attempt)
        except (AMQPConnectionError, AMQPChannelError):
            if channel.is_open:  # keep it: the next delivery dead-letters it again
                channel.basic_reject(method.delivery_tag, requeue=True)
            raise  # reconnect, which reopens the dead-letter channel too
        self.stats.dead_lettered += 1
        channel.basic_ack(method.delivery_tag)

    def _attempt(self, key: str, properties: BasicProperties) -> int:
        """This delivery's number: the quorum queue's count, or ours where it has none."""
        delivered_before = int((properties.headers or {}).get(DELIVERY_COUNT_HEADER, 0))
        return max(delivered_before, self.store.failures(key)) + 1

    def _dead_letter(
        self,
        method: Basic.Deliver,
        properties: BasicProperties,
        body: bytes,
        reason: str,
        attempts: int,
    ) -> None:
        """Publish to the dead-letter exchange with why, and wait for the confirm."""
        assert self.dead_letter_channel is not None  # opened with the session
        headers = dict(properties.headers or {})
        headers |= {
            REASON_HEADER: reason,
            ATTEMPTS_HEADER: attempts,
            QUEUE_HEADER: self.queue,
            CONSUMER_HEADER: self.name,
        }
        dead = BasicProperties(
            content_type=properties.content_type,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=properties.message_id,
            timestamp=properties.timestamp,
            headers=headers,
        )
        self.dead_letter_channel.basic_publish(
            DEAD_LETTER_EXCHANGE, method.routing_key, body, dead, mandatory=True
        )


@dataclass(frozen=True)
class DeadLetter:
    """A message from the dead-letter queue, and why it is there."""

    message_id: str | None
    reason: str | None
    attempts: int | None
    queue: str | None
    consumer: str | None
    routing_key: str
    body: str

    @classmethod
    def from_message(
        cls, method: Basic.GetOk, properties: BasicProperties, body: bytes
    ) -> DeadLetter:
        headers = properties.headers or {}
        return cls(
            message_id=properties.message_id,
            reason=headers.get(REASON_HEADER) or _broker_reason(headers),
            attempts=headers.get(ATTEMPTS_HEADER),
            queue=headers.get(QUEUE_HEADER) or headers.get("x-first-death-queue"),
            consumer=headers.get(CONSUMER_HEADER),
            routing_key=method.routing_key,
            body=body.decode(errors="replace"),
        )


def _broker_reason(headers: dict[str, Any]) -> str | None:
    """Dead-lettered by the broker itself (delivery limit, expiry): its x-first-death-reason."""
    reason = headers.get("x-first-death-reason")
    return f"broker: {reason}" if reason else None


def take_dead_letters(
    url: str,
    *,
    queue: str = DEAD_LETTER_QUEUE,
    expect: int = 0,
    timeout_s: float = 10,
    from_queues: Iterable[str] | None = None,
) -> list[DeadLetter]:
    """Pull (basic_get) and ack every dead letter: read them, and leave the queue empty.

    Waits up to `timeout_s` for at least `expect` of them. With `from_queues`,
    only letters dead-lettered from those queues count and are returned: other
    consumers (shipping, in the observability lesson) refuse the same poison.
    """
    wanted = set(from_queues) if from_queues is not None else None
    connection = connect(url, "dead-letter-reader")
    taken: list[DeadLetter] = []
    deadline = time.monotonic() + timeout_s
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue)
            if method is None:
                if len(taken) >= expect or time.monotonic() > deadline:
                    return taken
                connection.sleep(0.1)
                continue
            letter = DeadLetter.from_message(method, properties, body)
            if wanted is None or letter.queue in wanted:
                taken.append(letter)
            channel.basic_ack(method.delivery_tag)
    finally:
        close_quietly(connection)


def ready_counts(url: str, queues: Iterable[str]) -> dict[str, int]:
    """Messages ready for delivery per queue (a passive declare, which needs no rights)."""
    return _per_queue(
        url, "queue-inspector", queues, lambda ch, q: ch.queue_declare(q, passive=True)
    )


def purge(url: str, queues: Iterable[str]) -> dict[str, int]:
    """Empty the queues (needs read rights, which the app user has); returns what was dropped."""
    return _per_queue(url, "queue-purger", queues, lambda ch, q: ch.queue_purge(q))


def _per_queue(
    url: str, name: str, queues: Iterable[str], operation: Callable[[BlockingChannel, str], Any]
) -> dict[str, int]:
    """One short connection, `operation` on each queue, and the message count it reported."""
    connection = connect(url, name)
    try:
        channel = connection.channel()
        return {q: operation(channel, q).method.message_count for q in queues}
    finally:
        close_quietly(connection)
