"""Publish-subscribe on RabbitMQ, asserted on the pubsub-rabbitmq scenario's own results.

The scenario runs once for the module (about 20 s): 200 events and a poison
message through the fanout and the work queue, then 600 events at 100/s
while the broker restarts.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from order_events import rabbit
from order_events.model import POISON
from scenarios.pubsub_rabbitmq import subscribers
from scenarios.result import ScenarioResult
from tests.helpers import assert_holds


@pytest.fixture(scope="module")
def pubsub(result: ScenarioResult) -> dict[str, Any]:
    return result.metrics["pubsub"]


@pytest.fixture(scope="module")
def restart(result: ScenarioResult) -> dict[str, Any]:
    return result.metrics["restart"]


def test_every_subscriber_gets_every_message_in_order(pubsub: dict[str, Any]) -> None:
    events = pubsub["published"]["events"]
    assert pubsub["published"]["confirmed"] == events + 1  # and the poison message
    for role in ("notifier", "auditor"):
        group = pubsub["groups"][role]
        assert group["received_unique"] == events, group
        assert group["lost"] == 0, group
        assert group["processed_more_than_once"] == 0, group
        assert group["per_key_order_violations"] == 0, group


def test_work_queue_processes_each_message_once_across_consumers(pubsub: dict[str, Any]) -> None:
    events = pubsub["published"]["events"]
    work = pubsub["groups"]["work"]
    per_worker = work["processed_per_consumer"]
    assert len(per_worker) == subscribers.WORKERS, per_worker  # every worker got a share
    assert sum(per_worker.values()) == events, per_worker  # and no event went to two
    assert work["received_unique"] == events
    assert work["processed_more_than_once"] == 0


def test_poison_message_is_dead_lettered_with_its_reason(pubsub: dict[str, Any]) -> None:
    dead = pubsub["dead_letters"]
    assert sorted(d["queue"] for d in dead) == sorted(rabbit.ORDER_QUEUES)  # once per queue
    for letter in dead:
        assert letter["attempts"] == rabbit.MAX_ATTEMPTS, letter
        assert "customer_id: Field required" in letter["reason"], letter
        assert "amount_cents" in letter["reason"], letter
        assert letter["body"] == POISON.decode()
    for group in pubsub["groups"].values():
        assert group["dead_lettered"] == 1, group


def test_push_stops_at_prefetch_and_unacked_messages_come_back(pubsub: dict[str, Any]) -> None:
    peek = pubsub["peek"]
    assert peek["pushed_without_asking"] == peek["prefetch"]
    assert peek["ready_while_held_unacked"] == peek["ready_before"] - peek["prefetch"]
    assert peek["ready_after_channel_closed"] == peek["ready_before"]


def test_acked_messages_are_gone(pubsub: dict[str, Any]) -> None:
    assert pubsub["ready_before_consuming"] == dict.fromkeys(
        rabbit.ORDER_QUEUES, pubsub["published"]["confirmed"]
    )
    assert pubsub["ready_after_acks"] == dict.fromkeys(rabbit.ORDER_QUEUES, 0)
    assert all(pubsub["basic_get_after_acks"].values())


def test_broker_restart_loses_no_confirmed_message(restart: dict[str, Any]) -> None:
    stream = restart["stream"]
    assert restart["restart"].get("healthy_at_s"), restart["restart"]
    assert stream["confirmed"] == stream["events"], stream
    assert restart["lost_total"] == 0
    for role, group in restart["groups"].items():
        assert group["received_unique"] == stream["confirmed"], (role, group)
        assert group["lost"] == 0, (role, group)
        assert group["processed_more_than_once"] == 0, (role, group)
        assert group["reconnects"] >= group["consumers"], (role, group)  # they saw the restart


def test_result_is_json_and_ok(result: ScenarioResult) -> None:
    assert json.loads(json.dumps(result.to_json()))["scenario"] == "pubsub-rabbitmq"
    assert_holds(result)
