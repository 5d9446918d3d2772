"""Clusters lesson on the real stack: three Kafka nodes, three RabbitMQ nodes, failures on purpose.

The nodes sit behind the `clusters` profile; conftest's `lesson_services` starts
them for this module (as `make up LESSON=clusters` does) and stops them after it.
The failure tests assert on the scenario's one run (kill, stop, cut off).
"""

from __future__ import annotations

import asyncio

import pika
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pika.exceptions import ChannelClosedByBroker, ProbableAuthenticationError

from comms_sandbox import clusters
from comms_sandbox.credentials import CLUSTER_COOKIE, REPO
from order_events.rabbit import close_quietly
from scenarios.result import ScenarioResult
from tests.helpers import failed


def test_the_three_rabbitmq_nodes_form_one_cluster() -> None:
    clusters.wait_for_rabbitmq_cluster()
    for node in clusters.RABBITMQ_NODES.values():
        assert clusters.running_nodes(node) == [f"rabbit@rabbitmq-{n}" for n in (1, 2, 3)]


def test_the_three_kafka_nodes_serve_host_clients_at_their_advertised_addresses() -> None:
    async def brokers() -> dict[int, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=clusters.kafka_node(2).address)
        await admin.start()
        try:
            described = await admin.describe_cluster()
        finally:
            await admin.close()
        return {b["node_id"]: f"{b['host']}:{b['port']}" for b in described["brokers"]}

    expected = {n: clusters.kafka_node(n).address for n in (1, 2, 3)}
    assert asyncio.run(brokers()) == expected


def test_the_erlang_cookie_is_generated_here_and_never_committed() -> None:
    assert CLUSTER_COOKIE.exists() and len(CLUSTER_COOKIE.read_text()) >= 32
    assert not CLUSTER_COOKIE.resolve().is_relative_to(REPO / "scenarios" / "clusters")
    assert ".sandbox/" in (REPO / ".gitignore").read_text()


def test_a_wrong_password_is_refused_by_every_node() -> None:
    for node in clusters.RABBITMQ_NODES.values():
        url = clusters.amqp_url(node).replace(clusters.rabbitmq_password(), "wrong")
        with pytest.raises(ProbableAuthenticationError):
            pika.BlockingConnection(pika.URLParameters(url))


def test_the_lesson_user_may_declare_only_its_own_queues() -> None:
    node = clusters.RABBITMQ_NODES["rabbitmq-1"]
    connection = pika.BlockingConnection(pika.URLParameters(clusters.amqp_url(node)))
    try:
        with pytest.raises(ChannelClosedByBroker) as refused:
            connection.channel().queue_declare("not-the-lesson", durable=True)
        assert refused.value.reply_code == 403
    finally:
        close_quietly(connection)


def test_kafka_leader_killed_under_load_loses_no_acks_all_record(result: ScenarioResult) -> None:
    part = result.metrics["kafka_failover"]
    assert failed(part) == [], {k: v for k, v in part.items() if k not in ("timeline", "acks")}
    assert part["streams"]["all"]["lost"] == 0
    assert part["leaderless_s"] is not None


def test_kafka_refuses_acks_all_below_min_insync_replicas(result: ScenarioResult) -> None:
    part = result.metrics["kafka_min_isr"]
    assert failed(part) == [], part
    assert part["refused_errors"] == ["NotEnoughReplicasError"]


def test_rabbitmq_quorum_leader_killed_under_load_loses_no_confirmed_message(
    result: ScenarioResult,
) -> None:
    part = result.metrics["rabbitmq_failover"]
    assert failed(part) == [], {k: v for k, v in part.items()
                                if k not in ("timeline", "confirms", "deliveries")}  # fmt: skip
    assert part["traffic"]["lost"] == 0


def test_a_kafka_node_cut_off_the_network_loses_nothing_acknowledged(
    result: ScenarioResult,
) -> None:
    part = result.metrics["kafka_partition"]
    assert failed(part) == [], {k: v for k, v in part.items() if k not in ("timeline", "acks")}


def test_a_rabbitmq_node_cut_off_the_network_pauses_and_loses_nothing_confirmed(
    result: ScenarioResult,
) -> None:
    part = result.metrics["rabbitmq_partition"]
    assert failed(part) == [], {k: v for k, v in part.items()
                                if k not in ("confirms", "deliveries")}  # fmt: skip


def test_replication_costs_are_measured_with_every_write_acknowledged(
    result: ScenarioResult,
) -> None:
    part = result.metrics["cost"]
    assert failed(part) == [], part
