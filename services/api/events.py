"""Where the api sends order events: one sink per broker, all of which must confirm.

A sink raises PublishError when its broker did not take the event (down,
restarting, refused); the route then answers 503 and names the broker, and
the client retries with the same Idempotency-Key: the event keeps its
event_id, so subscribers that already have it count a duplicate instead of
acting twice.
"""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka.errors import KafkaError

from api.settings import Settings
from order_events import kafka, rabbit
from order_events.model import OrderPlaced


class PublishError(RuntimeError):
    """The broker did not confirm the event."""


class EventSink(Protocol):
    name: str

    async def publish(self, event: OrderPlaced) -> None: ...

    async def close(self) -> None: ...


@dataclass
class Fanout:
    """Publishes each event to every sink at once; collects what each one said."""

    sinks: list[EventSink] = field(default_factory=list)

    async def publish(self, event: OrderPlaced) -> dict[str, str]:
        outcomes = await asyncio.gather(
            *(sink.publish(event) for sink in self.sinks), return_exceptions=True
        )
        return {
            sink.name: "confirmed" if outcome is None else f"failed: {outcome}"
            for sink, outcome in zip(self.sinks, outcomes, strict=True)
        }

    async def close(self) -> None:
        await asyncio.gather(*(sink.close() for sink in self.sinks), return_exceptions=True)


@dataclass
class Unconfigured:
    """A broker the api was not told about: every publish fails, loudly."""

    name: str

    async def publish(self, event: OrderPlaced) -> None:
        raise PublishError(f"no {self.name} configured (API_{self.name.upper()}_* settings)")

    async def close(self) -> None:
        return None


class RabbitSink:
    """pika's BlockingConnection on one dedicated thread (it is not thread-safe)."""

    name = "rabbitmq"

    def __init__(self, url: str, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rabbitmq-publisher")
        self._publisher = rabbit.Publisher(url, retry_for_s=timeout_s, name="api")

    async def publish(self, event: OrderPlaced) -> None:
        loop = asyncio.get_running_loop()
        # In this request's context (its span and request id), not the thread's empty one.
        in_context = contextvars.copy_context().run
        call = loop.run_in_executor(self._thread, in_context, self._publisher.publish, event)
        try:
            # On timeout the thread may still get its confirm: a client retry with
            # the same key then makes a duplicate, which subscribers drop.
            await asyncio.wait_for(call, self.timeout_s)
        except (rabbit.PublishError, TimeoutError) as exc:
            raise PublishError(f"not confirmed: {exc or 'timed out'}") from exc

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._publisher.close)
        self._thread.shutdown(wait=False)


class KafkaSink:
    """aiokafka's idempotent producer (acks=all), started on first use."""

    name = "kafka"

    def __init__(self, bootstrap: str, timeout_s: float) -> None:
        self.bootstrap, self.timeout_s = bootstrap, timeout_s
        self._publisher: kafka.OrderPublisher | None = None
        self._starting = asyncio.Lock()

    async def publish(self, event: OrderPlaced) -> None:
        try:
            publisher = await asyncio.wait_for(self._started(), self.timeout_s)
            await asyncio.wait_for(publisher.publish(event), self.timeout_s)
        except (KafkaError, TimeoutError) as exc:
            raise PublishError(f"not acknowledged: {exc or 'timed out'}") from exc

    async def _started(self) -> kafka.OrderPublisher:
        async with self._starting:
            if self._publisher is None:
                publisher = kafka.OrderPublisher(self.bootstrap, retry_for_s=self.timeout_s)
                await publisher.start()
                self._publisher = publisher
            return self._publisher

    async def close(self) -> None:
        if self._publisher is not None:
            await self._publisher.stop()


def build_fanout(settings: Settings) -> Fanout:
    """One sink per broker named in the settings; they connect on first use, not at start-up."""
    timeout = settings.publish_timeout_s
    return Fanout(
        [
            RabbitSink(settings.rabbitmq_url, timeout)
            if settings.rabbitmq_url
            else Unconfigured("rabbitmq"),
            KafkaSink(settings.kafka_bootstrap, timeout)
            if settings.kafka_bootstrap
            else Unconfigured("kafka"),
        ]
    )
