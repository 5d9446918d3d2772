"""The same orders through the api to RabbitMQ and Kafka, asserted on pubsub-compare."""

from __future__ import annotations

import pytest

from scenarios.result import ScenarioResult
from tests.helpers import assert_holds


def test_the_api_gets_every_order_confirmed_by_both_brokers(result: ScenarioResult) -> None:
    assert result.metrics["accepted"] == result.metrics["orders"] == 100
    assert result.metrics["refused"] == 0


@pytest.mark.parametrize("broker", ["rabbitmq", "kafka"])
def test_each_subscriber_gets_every_event_once_in_customer_order(
    result: ScenarioResult, broker: str
) -> None:
    side = result.metrics[broker]
    assert (side["received"], side["lost"], side["duplicates"]) == (100, 0, 0)
    assert side["order_violations"] == 0


def test_a_queue_forgets_what_was_acked_while_the_log_keeps_it(result: ScenarioResult) -> None:
    assert result.metrics["rabbitmq"]["left_in_queue_after_ack"] == 0
    assert result.metrics["kafka"]["replayed_from_same_offsets"] == 100
    # Keyed by customer: 5 customers' events land on the 3 partitions, none empty here.
    assert sum(result.metrics["kafka"]["per_partition"].values()) >= 100
    assert_holds(result)
