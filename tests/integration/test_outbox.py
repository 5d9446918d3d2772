"""The transactional outbox on the real stack: relay killed, broker stopped, two relays, dual write.

Counted from PostgreSQL and from the brokers themselves (the auditor queue,
the `orders` topic's offsets), never from the relay's logs
(scenarios/idempotency_and_outbox/outbox.py). Each experiment runs once per
module and leaves the stack as it found it: relays and brokers running, the
api back on its default (outbox).
"""

from __future__ import annotations

from typing import Any

import pytest
from testcontainers.compose import DockerCompose

from scenarios.idempotency_and_outbox import outbox
from tests.helpers import failed

BROKERS = ("rabbitmq", "kafka")


@pytest.fixture(scope="module")
def faults(stack: DockerCompose) -> dict[str, Any]:
    return outbox.relay_and_broker_faults(broker="kafka")


@pytest.fixture(scope="module")
def competing(stack: DockerCompose) -> dict[str, Any]:
    return outbox.competing_relays()


@pytest.fixture(scope="module")
def dual_write(stack: DockerCompose) -> dict[str, Any]:
    return outbox.dual_write_cut(broker="kafka")


def failing(checks: dict[str, Any]) -> list[str]:
    """The checks that failed; one not shown (with its reason) is not a failure."""
    return failed({"holds": checks})


def test_orders_keep_being_stored_while_the_relay_and_a_broker_are_down(
    faults: dict[str, Any],
) -> None:
    # The api only commits: no relay and no Kafka do not stop it answering 201.
    assert faults["answers"] == {"201": faults["orders_placed"]}
    assert faults["orders_stored"] == faults["orders_placed"] > 100


@pytest.mark.parametrize("broker", BROKERS)
def test_every_stored_order_reaches_the_broker_none_lost(
    faults: dict[str, Any], broker: str
) -> None:
    side = faults[broker]
    assert side["lost"] == 0
    assert side["delivered"] == faults["orders_stored"]
    assert side["not_stored"] == 0
    # Copies are possible (a relay killed between a confirm and its commit) and counted.
    assert side["duplicates"] >= 0


def test_rabbitmq_keeps_receiving_while_kafka_is_down(faults: dict[str, Any]) -> None:
    assert faults["other_broker_during_outage"] > 0
    assert failing(outbox.fault_checks(faults)) == []


def test_the_chart_data_covers_the_run(faults: dict[str, Any]) -> None:
    bins = faults["per_second"]
    assert sum(bins["stored"]) == faults["orders_placed"]
    assert {event["event"] for event in faults["timeline"]} >= {
        "relay frozen", "relay let go", "relay killed (SIGKILL)", "relay started",
        "kafka stopped", "kafka started"}  # fmt: skip


def test_two_relays_on_one_backlog_never_publish_the_same_order(
    competing: dict[str, Any],
) -> None:
    assert competing["backlog"] == competing["orders_placed"] == 300
    for broker in BROKERS:
        side = competing[broker]
        assert (side["delivered"], side["lost"], side["duplicates"]) == (300, 0, 0), broker
        assert side["order_violations"] == 0, broker
    assert failing(outbox.competing_checks(competing)) == []


def test_the_dual_write_leaves_orders_in_one_broker_and_not_the_other(
    dual_write: dict[str, Any],
) -> None:
    placed = dual_write["orders_placed"]
    # Stored every time: the commit comes before the publish.
    assert dual_write["orders_stored"] == placed
    assert dual_write["answers"].get("503", 0) > 0
    assert dual_write["in_rabbitmq_not_kafka"] > 0
    assert dual_write["kafka"]["lost"] == dual_write["in_rabbitmq_not_kafka"]
    # Switched back to the outbox, the relay publishes what the dual write left pending.
    assert dual_write["in_kafka_once_the_relay_took_over"] == placed
    assert failing(outbox.dual_write_checks(dual_write)) == []
