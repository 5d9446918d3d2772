"""Order events on RabbitMQ: the publisher the api uses, waiting for each confirm.

The topology is declared in broker/rabbitmq/definitions.json, never here (the
app user may publish and consume, not declare):

    sandbox.events (topic) --order.#--------> sandbox.orders.broadcast (fanout)
                                                 |-> sandbox.orders.notifier
                                                 |-> sandbox.orders.auditor
                                                 '-> sandbox.orders.shipping
    sandbox.events (topic) --order.placed.*-> sandbox.orders.work (competing consumers)
    notifier, auditor, shipping, work --dead letters--> sandbox.orders.dlx
                                                   -> sandbox.orders.dead-letter

All five are quorum queues: a confirm means the message is on disk (fsynced),
so a confirmed persistent message survives a broker restart.

Publisher: one event at a time, each confirmed before the next; persistent,
mandatory, message_id = event_id. When the connection is lost it reconnects
(tenacity) and sends the same event again: a confirm lost in a crash can make
a duplicate, never a loss. The consumers live on the host side
(comms_sandbox/rabbitmq.py), for the scenarios and tests, except shipping's
(services/shipping/), the observability lesson's consumer.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import (
    AMQPChannelError,
    AMQPConnectionError,
    AuthenticationError,
    ChannelClosedByBroker,
    ProbableAccessDeniedError,
    ProbableAuthenticationError,
    UnroutableError,
)
from pika.spec import BasicProperties
from telemetry.context import REQUEST_ID_HEADER, current_request_id
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_delay,
    stop_when_event_set,
    wait_exponential,
)

from .model import OrderPlaced

EVENTS_EXCHANGE = "sandbox.events"
BROADCAST_EXCHANGE = "sandbox.orders.broadcast"
DEAD_LETTER_EXCHANGE = "sandbox.orders.dlx"
NOTIFIER_QUEUE = "sandbox.orders.notifier"
AUDITOR_QUEUE = "sandbox.orders.auditor"
WORK_QUEUE = "sandbox.orders.work"
SHIPPING_QUEUE = "sandbox.orders.shipping"  # services/shipping (observability lesson)
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


def retrying(retry_for_s: float, stop: threading.Event | None = None) -> Retrying:
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
    return retrying(retry_for_s, stop)(pika.BlockingConnection, parameters(url, name))


def close_quietly(connection: pika.BlockingConnection | None) -> None:
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
        request_id = current_request_id.get()
        headers = {REQUEST_ID_HEADER: request_id} if request_id else None
        self.publish_body(event.to_bytes(), routing_key(event), str(event.event_id), headers)

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
            retrying(self.retry_for_s)(self._publish_once, body, key, properties)
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
        close_quietly(self._connection)
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
