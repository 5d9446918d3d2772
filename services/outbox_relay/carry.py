"""Each event is published under the request that stored it: its request id and trace context.

The api stored them in the outbox row (orders_db.orders.insert_placed_event,
telemetry.links.context_headers). Around each publish the relay binds the
request id (the publishers put it in the message headers, and log lines carry
it) and opens an `outbox publish` span whose parent is the api's span and
which links to it too: the instrumented publish (a PRODUCER span) is its
child, and the consumers' spans theirs, so the order's trace runs from the
request through the relay to shipping and the ledger. With tracing off the
OpenTelemetry API makes no span: only the request id is carried.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind
from telemetry.context import REQUEST_ID_HEADER, REQUEST_ID_TAG, bound_request_id

from .plan import Broker, Message

tracer = trace.get_tracer("outbox_relay")


@contextmanager
def sent_under(message: Message, broker: Broker) -> Iterator[None]:
    """Within the block, the message's request id is current and its span is open."""
    parent = propagate.extract(dict(message.headers))
    creation = trace.get_current_span(parent).get_span_context()
    request_id = message.headers.get(REQUEST_ID_HEADER)
    with ExitStack() as stack:
        if request_id:  # none stored: publish without one rather than invent one
            stack.enter_context(bound_request_id(request_id))
        span = stack.enter_context(
            tracer.start_as_current_span(
                "outbox publish",
                context=parent,
                kind=SpanKind.INTERNAL,
                links=[Link(creation)] if creation.is_valid else None,
            )
        )
        span.set_attribute("messaging.message.id", message.event_id)
        span.set_attribute("messaging.system", broker)
        if request_id:
            span.set_attribute(REQUEST_ID_TAG, request_id[:64])
        yield


def amqp_headers(message: Message) -> dict[str, str] | None:
    """The AMQP headers the RabbitMQ publisher is given: the request id, if any."""
    request_id = message.headers.get(REQUEST_ID_HEADER)
    return {REQUEST_ID_HEADER: request_id} if request_id else None
