"""RabbitMQ with the project's least-privilege user: publish with confirms, consume, refusals."""

import uuid
from collections.abc import Iterator

import httpx
import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ChannelClosedByBroker, ProbableAuthenticationError
from testcontainers.compose import DockerCompose

from comms_sandbox import config
from order_events import rabbit


@pytest.fixture
def channel(stack: DockerCompose) -> Iterator[BlockingChannel]:
    connection = rabbit.connect(config.amqp_url(), "integration-test")
    chan = connection.channel()
    chan.confirm_delivery()
    yield chan
    connection.close()


def test_published_message_is_consumed(channel: BlockingChannel) -> None:
    channel.queue_purge("sandbox.smoke")
    body = f"hello {uuid.uuid4()}".encode()
    channel.basic_publish(
        "sandbox.events",
        "smoke.test",
        body,
        pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
        mandatory=True,  # with confirms: raises if no queue took it
    )
    method, _, received = next(channel.consume("sandbox.smoke", inactivity_timeout=10))
    assert received == body
    channel.basic_ack(method.delivery_tag)
    channel.cancel()


def test_app_user_cannot_declare_topology(channel: BlockingChannel) -> None:
    with pytest.raises(ChannelClosedByBroker) as refused:
        channel.exchange_declare("rogue.exchange", "fanout")
    assert refused.value.reply_code == 403  # ACCESS_REFUSED


def test_guest_cannot_log_in(stack: DockerCompose) -> None:
    with pytest.raises(ProbableAuthenticationError):
        rabbit.connect(config.amqp_url("guest", "guest"), "integration-test")


def test_management_api_serves_the_admin_and_refuses_guest(stack: DockerCompose) -> None:
    api = f"{config.rabbitmq_ui_url()}/api"
    admin = (config.RABBITMQ_ADMIN_USER, config.RABBITMQ_ADMIN_PASSWORD)
    vhosts = httpx.get(f"{api}/vhosts", auth=admin, timeout=10)
    assert vhosts.status_code == 200
    # The sandbox, and the isolated vhost of the RabbitMQ benchmark (`sandbox-perf` only).
    assert sorted(v["name"] for v in vhosts.json()) == ["perf", config.RABBITMQ_VHOST]
    queues = {q["name"] for q in httpx.get(f"{api}/queues", auth=admin, timeout=10).json()}
    assert {"sandbox.smoke", "sandbox.dead-letter"} <= queues
    assert httpx.get(f"{api}/overview", auth=("guest", "guest"), timeout=10).status_code == 401
