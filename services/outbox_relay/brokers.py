"""The relay's two brokers, each behind the sandbox's own publisher (order_events).

Both take a batch of messages in creation order and say, per event, whether
the broker confirmed it: RabbitMQ with publisher confirms (persistent,
mandatory, one confirmed before the next, order_events.rabbit.Publisher), Kafka
with acks=all and the idempotent producer (order_events.kafka.OrderPublisher).
A batch is bounded by the `timeout_s` it is given: a broker that does not
confirm in time has failed this batch, and the relay leaves it alone for a while (plan.Backoff)
while the other broker goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

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
    """pika's BlockingConnection on one dedicated thread (it is not thread-safe).

    The thread publishes the batch in order and stops at the first message
    the broker did not confirm: the ones after it are not sent, so one
    customer's events never reach the queues out of order.
    """

    name: Broker = "rabbitmq"

    def __init__(self, url: str) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rabbitmq-relay")
        self._publisher = rabbit.Publisher(url, name="outbox-relay")

    async def publish(self, messages: Sequence[Message], timeout_s: float) -> Outcomes:
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self._thread, self._publish_in_order, list(messages), timeout_s)
        try:
            # The thread keeps its own deadline; this one covers a connect that hangs.
            return await asyncio.wait_for(asyncio.shield(call), timeout_s * 2 + 5)
        except TimeoutError:
            # The thread may still get confirms: those events stay unmarked and go
            # out again later, a duplicate the consumers drop by event id.
            return {m.event_id: "timed out" for m in messages}

    def _publish_in_order(self, messages: list[Message], timeout_s: float) -> dict[str, str | None]:
        outcomes: dict[str, str | None] = {}
        deadline = time.monotonic() + timeout_s
        # How long one message is retried (reconnecting) before it counts as not confirmed.
        self._publisher.retry_for_s = timeout_s
        for message in messages:
            if time.monotonic() > deadline:
                break  # the rest were not sent: not confirmed
            try:
                with sent_under(message, self.name):
                    self._publisher.publish_body(
                        message.body, message.routing_key, message.event_id, amqp_headers(message)
                    )
            except rabbit.PublishError as exc:
                outcomes[message.event_id] = str(exc)[:200]
                break
            outcomes[message.event_id] = None
        return outcomes

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._publisher.close)
        self._thread.shutdown(wait=False)


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
