"""shipping: consumes every order from RabbitMQ (queue sandbox.orders.shipping) and ships it.

The observability lesson's RabbitMQ end. The pika instrumentation starts a
consumer span from the message's trace context (a child of the api's
publish span), and telemetry's consume hook links it to that context too;
the handler binds the message's request id, so its log line
joins the order's other lines. A message that is not an OrderPlaced is
rejected without requeue: the queue dead-letters it to sandbox.orders.dlx.
An order seen before (same event_id: the outbox relay or a publisher sent it
again) is acked and counted as a duplicate, not shipped twice
(order_events/dedup.py).
"""

from __future__ import annotations

import logging
import os

import telemetry
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties
from prometheus_client import Counter
from telemetry.heartbeat import beat

from order_events.dedup import SeenEvents
from order_events.model import InvalidEventError, OrderPlaced
from order_events.rabbit import SHIPPING_QUEUE, close_quietly, connect, retrying

log = logging.getLogger("shipping")

CONSUMED = Counter(
    "orders_consumed", "Order messages this consumer finished", ["broker", "outcome"]
)
PREFETCH = 10
POLL_S = 1.0  # how often the loop wakes (and beats) when no message comes
SEEN = SeenEvents()  # one consumer thread: no lock needed


def handle(
    channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties, body: bytes
) -> None:
    headers = properties.headers or {}
    with telemetry.bound_request_id(headers.get(telemetry.REQUEST_ID_HEADER)):
        try:
            order = OrderPlaced.from_bytes(body)
        except InvalidEventError as exc:
            log.warning("dead-lettered", extra={"fields": {"reason": str(exc)[:200]}})
            channel.basic_reject(method.delivery_tag, requeue=False)
            CONSUMED.labels("rabbitmq", "dead-lettered").inc()
            return
        if not SEEN.first_time(str(order.event_id)):
            log.info("duplicate dropped", extra={"fields": {"order_id": order.order_id}})
            channel.basic_ack(method.delivery_tag)
            CONSUMED.labels("rabbitmq", "duplicate").inc()
            return
        log.info(
            "shipping order",
            extra={"fields": {"order_id": order.order_id, "customer_id": order.customer_id}},
        )
        channel.basic_ack(method.delivery_tag)
        CONSUMED.labels("rabbitmq", "processed").inc()


def consume(url: str) -> None:
    """Consume until the connection drops; the caller reconnects."""
    connection = connect(url, name="shipping")
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=PREFETCH)
        channel.basic_consume(SHIPPING_QUEUE, handle)
        log.info("consuming", extra={"fields": {"queue": SHIPPING_QUEUE}})
        while True:
            connection.process_data_events(time_limit=POLL_S)
            beat()
    finally:
        close_quietly(connection)


def main() -> None:
    if telemetry.setup("shipping"):
        # Only when tracing is on: off, no instrumentation module is loaded.
        from telemetry.messaging import instrument_pika  # noqa: PLC0415

        instrument_pika()
    # RabbitMQ restarts are part of the lessons: reconnect for as long as it takes.
    # A permanent error (credentials, permissions) ends the process: compose restarts it.
    retrying(retry_for_s=float("inf"))(consume, os.environ["SHIPPING_RABBITMQ_URL"])


if __name__ == "__main__":
    main()
