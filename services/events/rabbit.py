"""Order events on RabbitMQ: a publisher that waits for confirms, consumers that ack by hand.

The topology is declared in broker/rabbitmq/definitions.json, never here (the
app user may publish and consume, not declare):

    sandbox.events (topic) --order.#--------> sandbox.orders.broadcast (fanout)
                                                 |-> sandbox.orders.notifier
                                                 '-> sandbox.orders.auditor
    sandbox.events (topic) --order.placed.*-> sandbox.orders.work (competing consumers)
    notifier, auditor, work --dead letters--> sandbox.orders.dlx -> sandbox.orders.dead-letter

All four are quorum queues: a confirm means the message is on disk (fsynced),
so a confirmed persistent message survives a broker restart.

Publisher: one event at a time, each confirmed before the next; persistent,
mandatory, message_id = event_id. When the connection is lost it reconnects
(tenacity) and sends the same event again: a confirm lost in a crash can make
a duplicate, never a loss.

Consumer: push (basic_consume) with a prefetch limit (basic_qos) and manual
acks, sent only after the handler returned. The event_id is the idempotency
key: a redelivered or re-published event is acked, counted as a duplicate and
not processed again. A message that cannot be processed is rejected and
requeued up to MAX_ATTEMPTS times; then the consumer publishes it to the
dead-letter exchange with the reason and the attempt count in its headers
(confirmed), and only then acks it: never silently dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import (
    AMQPChannelError,
    AMQPConnectionError,
    AuthenticationError,
    ChannelClosedByBroker,
    ConsumerCancelled,
    ProbableAccessDeniedError,
    ProbableAuthenticationError,
    UnroutableError,
)
from pika.spec import Basic, BasicProperties
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_delay,
    stop_when_event_set,
    wait_exponential,
)

from .model import InvalidEventError, OrderPlaced

EVENTS_EXCHANGE = "sandbox.events"
BROADCAST_EXCHANGE = "sandbox.orders.broadcast"
DEAD_LETTER_EXCHANGE = "sandbox.orders.dlx"
NOTIFIER_QUEUE = "sandbox.orders.notifier"
AUDITOR_QUEUE = "sandbox.orders.auditor"
WORK_QUEUE = "sandbox.orders.work"
DEAD_LETTER_QUEUE = "sandbox.orders.dead-letter"
ORDER_QUEUES = (NOTIFIER_QUEUE, AUDITOR_QUEUE, WORK_QUEUE)

MAX_ATTEMPTS = 3  # deliveries of a failing message before it is dead-lettered
PREFETCH = 20  # unacked messages the broker may push to one consumer

# Headers the consumer adds to a dead letter (RabbitMQ's own are x-death, x-first-death-*).
REASON_HEADER = "x-sandbox-reason"
ATTEMPTS_HEADER = "x-sandbox-attempts"
QUEUE_HEADER = "x-sandbox-queue"
CONSUMER_HEADER = "x-sandbox-consumer"
# Set by quorum queues on a redelivery: how many deliveries failed before this one.
DELIVERY_COUNT_HEADER = "x-delivery-count"

# Wrong credentials, a refused vhost or a message no queue takes do not get
# better by retrying.
_PERMANENT_ERRORS = (
    AuthenticationError,
    ProbableAuthenticationError,
    ProbableAccessDeniedError,
    UnroutableError,
)
_PERMANENT_CHANNEL_CODES = {403, 404, 406}  # access refused, not found, precondition failed

T = TypeVar("T")
Handler = Callable[[OrderPlaced], None]


class PublishError(RuntimeError):
    """The broker did not confirm the message, even after reconnecting and retrying."""


def routing_key(event: OrderPlaced) -> str:
    """`order.placed.<customer>`: the topic exchange can route by event type and by customer."""
    return f"{event.type}.{event.customer_id}"


def retriable(exc: BaseException) -> bool:
    """A lost connection or channel, a nack: worth reconnecting and trying again."""
    if isinstance(exc, _PERMANENT_ERRORS):
        return False
    if isinstance(exc, ChannelClosedByBroker):
        return exc.reply_code not in _PERMANENT_CHANNEL_CODES
    return isinstance(exc, AMQPConnectionError | AMQPChannelError)


def parameters(url: str, name: str) -> pika.URLParameters:
    """Connection parameters: one attempt (callers retry), a name shown in the management UI."""
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.heartbeat = 30
    # A broker in a memory alarm blocks publishers; give up after 30 s rather than hang.
    params.blocked_connection_timeout = 30
    params.client_properties = {"connection_name": name}
    return params


def _retrying(retry_for_s: float, stop: threading.Event | None = None) -> Retrying:
    """Retry while the broker is down or booting, backing off to one try every 2 s."""
    give_up = stop_after_delay(retry_for_s)
    if stop is not None:
        give_up = give_up | stop_when_event_set(stop)
    return Retrying(
        retry=retry_if_exception(retriable),
        wait=wait_exponential(multiplier=0.1, max=2),
        stop=give_up,
        sleep=stop.wait if stop is not None else time.sleep,
        reraise=True,
    )


def connect(
    url: str, name: str, retry_for_s: float = 60, stop: threading.Event | None = None
) -> pika.BlockingConnection:
    """A BlockingConnection, retried for up to `retry_for_s` (or until `stop` is set)."""
    return _retrying(retry_for_s, stop)(pika.BlockingConnection, parameters(url, name))


def _close_quietly(connection: pika.BlockingConnection | None) -> None:
    if connection is not None and connection.is_open:
        # Already going away (the broker restarts, say): nothing left to release.
        with contextlib.suppress(AMQPConnectionError, AMQPChannelError):
            connection.close()


def _pace(index: int, rate_per_s: float | None, started: float) -> None:
    """Event N no earlier than N / rate seconds in: steady, and catching up after a stall."""
    if rate_per_s:
        time.sleep(max(0.0, index / rate_per_s - (time.perf_counter() - started)))


@dataclass
class PublishReport:
    """What a stream of events came to: which ones the broker confirmed, and what it took."""

    confirmed: list[str] = field(default_factory=list)  # event ids, in publish order
    failed: dict[str, str] = field(default_factory=dict)  # event id -> why it was given up
    not_sent: int = 0  # events never tried after a give-up
    publishes: int = 0  # basic.publish calls, retries included
    reconnects: int = 0
    duration_s: float = 0.0
    slowest_publish_s: float = 0.0  # the longest wait for one confirm: an outage, seen from here


class Publisher:
    """Publishes to `exchange` with publisher confirms; reconnects and retries when needed.

    Not thread-safe: one publisher per thread (pika's BlockingConnection is not).
    """

    def __init__(
        self,
        url: str,
        *,
        exchange: str = EVENTS_EXCHANGE,
        retry_for_s: float = 60,
        name: str = "order-publisher",
    ) -> None:
        self.url = url
        self.exchange = exchange
        self.retry_for_s = retry_for_s
        self.name = name
        self.publishes = 0
        self.reconnects = 0
        self.confirmed = 0
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def publish(self, event: OrderPlaced) -> None:
        """Publish one event and wait for its confirm; raises PublishError when none came."""
        self.publish_body(event.to_bytes(), routing_key(event), str(event.event_id))

    def publish_body(
        self, body: bytes, key: str, message_id: str, headers: dict[str, Any] | None = None
    ) -> None:
        """Publish raw bytes (the poison message, say) with the same guarantees as publish()."""
        properties = BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id,
            timestamp=int(time.time()),
            headers=headers,
        )
        try:
            _retrying(self.retry_for_s)(self._publish_once, body, key, properties)
        except (AMQPConnectionError, AMQPChannelError) as exc:
            raise PublishError(f"{message_id} not confirmed: {type(exc).__name__}: {exc}") from exc
        self.confirmed += 1

    def publish_all(
        self, events: Iterable[OrderPlaced], *, rate_per_s: float | None = None
    ) -> PublishReport:
        """Publish in order, at most `rate_per_s`; stop at the first event given up on."""
        pending = list(events)
        report = PublishReport()
        publishes, reconnects = self.publishes, self.reconnects
        started = time.perf_counter()
        for index, event in enumerate(pending):
            _pace(index, rate_per_s, started)
            if not self._publish_into(report, event):
                report.not_sent = len(pending) - index - 1
                break
        report.publishes = self.publishes - publishes
        report.reconnects = self.reconnects - reconnects
        report.duration_s = round(time.perf_counter() - started, 3)
        return report

    def _publish_into(self, report: PublishReport, event: OrderPlaced) -> bool:
        """Publish one event and note the outcome in `report`; False when given up on."""
        sent_at = time.perf_counter()
        try:
            self.publish(event)
        except PublishError as exc:
            report.failed[str(event.event_id)] = str(exc)
            return False
        finally:
            took = time.perf_counter() - sent_at
            report.slowest_publish_s = round(max(report.slowest_publish_s, took), 3)
        report.confirmed.append(str(event.event_id))
        return True

    def close(self) -> None:
        _close_quietly(self._connection)
        self._connection = self._channel = None

    def _publish_once(self, body: bytes, key: str, properties: BasicProperties) -> None:
        channel = self._open_channel()
        self.publishes += 1
        # With confirms on, this returns once the broker acked; raises on a nack
        # (NackError), on a return (mandatory, UnroutableError), or when the
        # connection goes, in which case the outcome is unknown and we send again.
        channel.basic_publish(self.exchange, key, body, properties, mandatory=True)

    def _open_channel(self) -> BlockingChannel:
        if self._connection is None or not self._connection.is_open:
            reconnecting = self._connection is not None
            self._connection = pika.BlockingConnection(parameters(self.url, self.name))
            self._channel = None
            self.reconnects += reconnecting  # counted once it succeeded, not per attempt
        if self._channel is None or not self._channel.is_open:
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
        return self._channel


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

    def to_json(self) -> dict[str, Any]:
        """The counts, without the id list."""
        return {k: v for k, v in asdict(self).items() if k != "processed_ids"}


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
        self._dead_letters: BlockingChannel | None = None

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
            self._dead_letters = connection.channel()
            self._dead_letters.confirm_delivery()
            channel.basic_consume(self.queue, self._on_message)
            while not self._stop.is_set():
                connection.process_data_events(time_limit=0.1)
                if not channel.consumer_tags:  # the broker cancelled us (queue deleted...)
                    raise ConsumerCancelled(f"{self.queue}: consumer cancelled by the broker")
        finally:
            _close_quietly(connection)

    def _on_message(
        self,
        channel: BlockingChannel,
        method: Basic.Deliver,
        properties: BasicProperties,
        body: bytes,
    ) -> None:
        self.stats.deliveries += 1
        self.stats.redelivered += bool(method.redelivered)
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
            # reject, not nack: RabbitMQ 4 counts only a reject as a failed
            # delivery in x-delivery-count (3.10 counts both).
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
        assert self._dead_letters is not None  # opened with the session
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
        self._dead_letters.basic_publish(
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
    url: str, *, queue: str = DEAD_LETTER_QUEUE, expect: int = 0, timeout_s: float = 10
) -> list[DeadLetter]:
    """Pull (basic_get) and ack every dead letter: read them, and leave the queue empty.

    Waits up to `timeout_s` for at least `expect` of them.
    """
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
            taken.append(DeadLetter.from_message(method, properties, body))
            channel.basic_ack(method.delivery_tag)
    finally:
        _close_quietly(connection)


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
        _close_quietly(connection)
