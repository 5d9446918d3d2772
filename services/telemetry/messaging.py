"""Tracing through the brokers: the maintained pika, aio-pika and aiokafka instrumentations.

The instrumentations put W3C trace context in each message's headers on
publish and start the consumer's span from it, as a child of the producer's
span: the hop through RabbitMQ or Kafka is part of the order's one trace.
The hooks add what the instrumentations leave out: the request id, the
broker's name as `peer.service` (Zipkin shows it on the span), and on the
consumer's span a link to the message's creation context, which the
OpenTelemetry messaging conventions ask of every receive and process span
(the parent is the same context here: one message, handled at once).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
from opentelemetry.instrumentation.pika import PikaInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import Span
from pika.connection import Connection

from telemetry.context import REQUEST_ID_HEADER, REQUEST_ID_TAG
from telemetry.links import creation_links

PEER_SERVICE = "peer.service"


def instrument_pika() -> None:
    PikaInstrumentor().instrument(publish_hook=_tag_amqp, consume_hook=_tag_amqp_consume)
    # The services use BlockingConnection only, whose channel wraps a plain
    # Connection's channel: instrumenting both records each publish twice, nested.
    unwrap(Connection, "channel")


def instrument_aio_pika() -> None:
    """The relay's RabbitMQ publisher (aio-pika): PRODUCER spans, context in the headers."""
    AioPikaInstrumentor().instrument()


def instrument_aiokafka() -> None:
    AIOKafkaInstrumentor().instrument(
        async_produce_hook=_tag_kafka_send, async_consume_hook=_tag_kafka_receive
    )


def _tag_amqp(span: Span, _body: bytes, properties: Any) -> None:
    span.set_attribute(PEER_SERVICE, "rabbitmq")
    request_id = (properties.headers or {}).get(REQUEST_ID_HEADER)
    if isinstance(request_id, bytes):
        request_id = request_id.decode("ascii", errors="replace")
    if request_id:
        span.set_attribute(REQUEST_ID_TAG, str(request_id)[:64])


def _tag_amqp_consume(span: Span, body: bytes, properties: Any) -> None:
    _tag_amqp(span, body, properties)
    _link_to_creation(span, (properties.headers or {}).items())


async def _tag_kafka_send(span: Span, _args: Any, kwargs: dict[str, Any]) -> None:
    _tag_kafka(span, kwargs.get("headers") or [])


async def _tag_kafka_receive(span: Span, record: Any, _args: Any, _kwargs: Any) -> None:
    _tag_kafka(span, record.headers or [])
    _link_to_creation(span, record.headers or [])


def _tag_kafka(span: Span, headers: list[tuple[str, bytes]]) -> None:
    span.set_attribute(PEER_SERVICE, "kafka")
    for key, value in headers:
        if key == REQUEST_ID_HEADER and value:
            span.set_attribute(REQUEST_ID_TAG, value.decode("ascii", errors="replace")[:64])


def _link_to_creation(span: Span, headers: Iterable[tuple[str, object]]) -> None:
    for link in creation_links(headers):
        span.add_link(link.context)
