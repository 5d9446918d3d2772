"""Publish-subscribe on RabbitMQ: every subscriber gets every event; workers share a queue.

One publish of an order event to the topic exchange `sandbox.events`
(routing key `order.placed.<customer>`) reaches three durable quorum queues:
through the fanout exchange `sandbox.orders.broadcast` the notifier's and
the auditor's (publish-subscribe: each subscriber gets its own copy), and
through a topic binding the work queue, shared by three workers (competing
consumers: each event goes to one of them). The topology is declared in
broker/rabbitmq/definitions.json; services/order_events/rabbit.py publishes with
confirms and consumes with manual acks.

What to look at:
- fanout: the notifier and the auditor each processed all 200 events, and
  in per-customer order (one consumer per queue keeps the queue's order);
- work queue: the 200 events split over 3 workers, each processed once; the
  per-customer order is NOT kept there: parallel workers finish out of
  order (give a key's events to one consumer when order matters);
- push: a consumer with prefetch 5 is sent 5 messages without asking and no
  more until it acks; closing its channel without acking gives them back;
- acked means gone: after the acks the queues are empty, basic_get gets nothing;
- the poison message: rejected and requeued, then dead-lettered by each of
  its three queues after 3 attempts, with the validation error in a header;
- the crash run: 600 events at 100/s; after 150 the broker is killed
  (`docker kill`, SIGKILL, then `docker start`): all confirmed, 0 confirmed
  events lost, duplicates (a confirm or an ack lost in the crash) detected
  by event_id and skipped.
About 30 s; it crashes and restarts RabbitMQ once and leaves the queues empty.
"""

from __future__ import annotations

from typing import Any

from pika.exceptions import AMQPConnectionError

from comms_sandbox import config, ports
from comms_sandbox.health import SandboxNotUpError
from order_events import rabbit
from scenarios import narration
from scenarios.pubsub_rabbitmq import broadcast, restart
from scenarios.pubsub_rabbitmq.render import render
from scenarios.result import ScenarioResult, from_parts

NAME = "pubsub-rabbitmq"
# Where `--capture` records its packets (scenarios/capture.py).
CAPTURE_AT = ("rabbitmq",)
ORDER = 40  # place in the syllabus
# What `make up LESSON=pubsub-rabbitmq` starts: the broker alone: the scenario publishes and
# consumes from the host.
SERVICES = ("rabbitmq",)
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "broker/rabbitmq/",
    "services/order_events/model.py",
    "services/order_events/rabbit.py",
    "comms_sandbox/rabbitmq.py",
    "images/perftest/",
    "tests/integration/test_rabbitmq.py",
    "tests/unit/test_events_rabbit.py",
)
PARTS = ("pubsub", "restart")

__all__ = ["NAME", "PARTS", "render", "run"]


def require_rabbitmq(url: str) -> None:
    """Fail with advice, not a traceback, when the broker does not answer."""
    try:
        rabbit.connect(url, "sandbox-probe", retry_for_s=3).close()
    except AMQPConnectionError as exc:
        raise SandboxNotUpError(
            f"RabbitMQ does not answer at {ports.HOST}:{ports.AMQP.port} "
            f"({type(exc).__name__}). Start the sandbox with `make up` "
            "(or set RABBITMQ_AMQP_PORT if you moved it)."
        ) from exc


def run(parts: tuple[str, ...] = PARTS) -> ScenarioResult:
    """Run the chosen parts; "restart" restarts the broker and waits until it is healthy."""
    url = config.amqp_url()
    require_rabbitmq(url)
    metrics: dict[str, Any] = {}
    if "pubsub" in parts:
        with narration.part("pubsub"):
            metrics["pubsub"] = broadcast.run(url)
        metrics["pubsub"]["holds"] = broadcast.holds(metrics["pubsub"])
    if "restart" in parts:
        with narration.part("restart"):
            metrics["restart"] = restart.run(url)
        metrics["restart"]["holds"] = restart.holds(metrics["restart"])
    result = from_parts(NAME, metrics, list(metrics))
    result.evidence = metrics.get("pubsub", {}).get("dead_letters", [])
    return result
