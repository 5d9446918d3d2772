"""The relay's two brokers, each behind the sandbox's own publisher (order_events).

Both take a batch of messages in creation order and say, per event, whether
the broker confirmed it: RabbitMQ with publisher confirms (persistent,
mandatory, the same message as order_events.rabbit.Publisher's; confirms
pipelined across customers, each customer's in order), Kafka with acks=all and
the idempotent producer (order_events.kafka.OrderPublisher).
A batch is bounded by the `timeout_s` it is given: a broker that does not
confirm in time has failed this batch, and the relay leaves it alone for a while (plan.Backoff)
while the other broker goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import aio_pika
import aio_pika.abc
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from aiokafka.errors import KafkaError

from order_events import kafka, rabbit

from .carry import amqp_headers, sent_under
from .plan import Broker, Message, Outcomes

log = logging.getLogger("outbox_relay")


class BrokerClient(Protocol):
    name: Broker

    async def publish(self, messages: Sequence[Message], timeout_s: float) -> Outcomes: ...

    async def close(self) -> None: ...


class RabbitClient:
    """aio-pika with publisher confirms, on the relay's own event loop.

    A batch's events go out as chains, one per customer (the ordering key):
    within a chain each event is confirmed before the next is sent, and a
    refusal ends the chain, so one customer's events never reach the queues
    out of order, even when the broker nacks one. The chains are in flight
    together on one channel: their confirms come back in a round trip or
    two (RabbitMQ acknowledges many deliveries at once, `multiple`), not in
    one round trip per event as with one event at a time.

    A lost connection fails the batch's unconfirmed events; the next batch
    connects again (the relay backs off the broker meanwhile, plan.Backoff).
    """

    name: Broker = "rabbitmq"

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def publish(self, messages: Sequence[Message], timeout_s: float) -> Outcomes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            exchange = await asyncio.wait_for(self._connected(timeout_s), timeout_s)
        except (AMQPError, OSError, TimeoutError) as exc:
            await self.close()
            return {m.event_id: f"not connected: {exc!r}"[:200] for m in messages}
        chains = await asyncio.gather(
            *(self._publish_chain(exchange, chain, deadline) for chain in chains_by_key(messages))
        )
        outcomes = {event_id: failure for chain in chains for event_id, failure in chain.items()}
        if not self._usable():
            await self.close()  # connect afresh next time
        return outcomes

    async def _publish_chain(
        self, exchange: aio_pika.abc.AbstractExchange, chain: list[Message], deadline: float
    ) -> dict[str, str | None]:
        """One customer's events in order, each confirmed before the next; stop at a refusal."""
        outcomes: dict[str, str | None] = {}
        loop = asyncio.get_running_loop()
        for message in chain:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break  # the rest were not sent: not confirmed
            try:
                with sent_under(message, self.name):
                    await exchange.publish(
                        amqp_message(message), message.routing_key, mandatory=True,
                        timeout=remaining,
                    )  # fmt: skip
            except (AMQPError, ChannelInvalidStateError, OSError, TimeoutError) as exc:
                outcomes[message.event_id] = f"not confirmed: {exc!r}"[:200]
                break
            outcomes[message.event_id] = None
        return outcomes

    async def _connected(self, timeout_s: float) -> aio_pika.abc.AbstractExchange:
        if self._exchange is None or not self._usable():
            await self.close()
            connection = await aio_pika.connect(
                self.url,
                timeout=timeout_s,
                client_properties={"connection_name": "outbox-relay"},
            )
            self._connection = connection
            # A nack or a return (mandatory: no queue took it) fails that publish.
            self._channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            # Declared by the broker's definitions; the relay's user may not declare.
            self._exchange = await self._channel.get_exchange(rabbit.EVENTS_EXCHANGE, ensure=False)
        return self._exchange

    def _usable(self) -> bool:
        """Connection and channel open (a channel error, 404 say, closes the channel only)."""
        return bool(
            self._connection
            and not self._connection.is_closed
            and self._channel
            and not self._channel.is_closed
        )

    async def close(self) -> None:
        connection = self._connection
        self._connection = self._channel = self._exchange = None
        if connection is not None and not connection.is_closed:
            # Already going away (the broker restarts, say): nothing left to release.
            with contextlib.suppress(AMQPError, OSError):
                await connection.close()


def chains_by_key(messages: Sequence[Message]) -> list[list[Message]]:
    """The messages grouped by ordering key, each group in the batch's order."""
    chains: dict[str, list[Message]] = {}
    for message in messages:
        chains.setdefault(message.key, []).append(message)
    return list(chains.values())


def amqp_message(message: Message) -> aio_pika.Message:
    """Persistent, with the event id as message id: what order_events.rabbit.Publisher sends."""
    return aio_pika.Message(
        message.body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.event_id,
        timestamp=datetime.now(UTC),
        # A dict even when empty: the tracing instrumentation writes its context into it.
        headers=dict(amqp_headers(message) or {}),
    )


class KafkaClient:
    """aiokafka's idempotent producer (acks=all), started on first use and after a failed start.

    The batch's records are sent at once and acknowledged together: the
    producer batches them per partition and, being idempotent, keeps their
    order. Each is retried by the publisher with the same event id.
    """

    name: Broker = "kafka"

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._publisher: kafka.OrderPublisher | None = None

    async def publish(self, messages: Sequence[Message], timeout_s: float) -> Outcomes:
        try:
            publisher = await asyncio.wait_for(self._started(timeout_s), timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            return {m.event_id: f"producer not started: {exc!r}"[:200] for m in messages}
        publisher.retry_for_s = timeout_s
        sends = [self._send(publisher, m, timeout_s) for m in messages]
        answers = await asyncio.gather(*sends)
        return dict(zip((m.event_id for m in messages), answers, strict=True))

    async def _send(
        self, publisher: kafka.OrderPublisher, message: Message, timeout_s: float
    ) -> str | None:
        try:
            with sent_under(message, self.name):  # publish_raw adds the bound request id
                await asyncio.wait_for(
                    publisher.publish_raw(
                        message.body, key=message.key.encode(), event_id=message.event_id
                    ),
                    timeout_s,
                )
        except (KafkaError, TimeoutError) as exc:
            return f"not acknowledged: {exc!r}"[:200]
        return None

    async def _started(self, timeout_s: float) -> kafka.OrderPublisher:
        if self._publisher is None:
            publisher = kafka.OrderPublisher(
                self.bootstrap,
                retry_for_s=timeout_s,
                client_id="outbox-relay",
                # A record is in a batch for at most this long before it goes.
                linger_ms=2,
            )
            try:
                await publisher.start()
            except BaseException:
                await publisher.stop()
                raise
            self._publisher = publisher
        return self._publisher

    async def close(self) -> None:
        if self._publisher is not None:
            await self._publisher.stop()
