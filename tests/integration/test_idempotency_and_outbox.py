"""Idempotency keys and the transactional outbox on the real stack, asserted on the lesson's run().

The lesson's Toxiproxy (profile `idempotency-and-outbox`) is started for this
module by conftest's `lesson_services`, as `make up LESSON=idempotency-and-outbox`
does. Every count comes from PostgreSQL (psql in its container) and from the
brokers themselves (the auditor queue, the `orders` topic), never from a log.
"""

from __future__ import annotations

import pytest

from comms_sandbox import toxiproxy
from comms_sandbox.ports import ORDERS_TOXIPROXY
from scenarios.result import ScenarioResult
from tests.helpers import assert_holds, failed

BROKERS = ("rabbitmq", "kafka")


def test_a_cut_answer_retried_without_a_key_stores_the_order_twice(
    result: ScenarioResult,
) -> None:
    bare = result.metrics["idempotency"]["without_key"]
    assert bare["cut"] == bare["orders_meant"] == 10
    # Each first attempt was committed before its answer was cut: 2 rows per order meant.
    assert bare["rows"] == bare["attempts"] == 20
    assert bare["rows_per_order"] == {"2": 10}
    assert bare["answers"] == {"0": 10, "201": 10}


def test_with_an_idempotency_key_the_retry_replays_and_one_order_exists(
    result: ScenarioResult,
) -> None:
    keyed = result.metrics["idempotency"]["with_key"]
    assert keyed["rows"] == keyed["orders_meant"] == 10
    assert keyed["rows_per_order"] == {"1": 10}
    assert keyed["answers"] == {"0": 10, "201 replayed": 10}
    assert keyed["answered_ids_stored"] == 10


def test_a_key_reused_with_another_body_or_while_in_flight_is_refused(
    result: ScenarioResult,
) -> None:
    part = result.metrics["idempotency"]
    assert part["other_body"]["other_body_answers"] == {"422": part["other_body"]["keys"]}
    flight = part["in_flight"]
    assert flight["first_seen_waiting"] and flight["lock_held_s"] < 1.0
    assert set(flight["during_answers"]) == {"409"}
    assert (flight["first"]["status"], flight["after"]["status"]) == (201, 201)
    assert flight["after"]["replayed"]
    assert flight["after"]["order_id"] == flight["first"]["order_id"]
    assert failed(part) == []


def test_no_toxic_is_left_on_the_lessons_toxiproxy(result: ScenarioResult) -> None:
    assert result.metrics["idempotency"]["left_configured"] == []
    assert toxiproxy.leftovers(at=ORDERS_TOXIPROXY) == []


def test_orders_are_stored_and_answered_while_the_relay_and_kafka_are_down(
    result: ScenarioResult,
) -> None:
    faults = result.metrics["relay and broker faults"]
    # The api only commits: no relay and no Kafka do not stop it answering 201.
    assert faults["answers"] == {"201": faults["orders_placed"]}
    assert faults["orders_stored"] == faults["orders_placed"] > 100


@pytest.mark.parametrize("broker", BROKERS)
def test_every_stored_order_reaches_each_broker_none_lost(
    result: ScenarioResult, broker: str
) -> None:
    faults = result.metrics["relay and broker faults"]
    side = faults[broker]
    assert (side["lost"], side["not_stored"], side["order_violations"]) == (0, 0, 0)
    assert side["delivered"] == faults["orders_stored"]
    assert side["duplicates"] >= 0  # possible (a relay killed between confirm and mark), counted


def test_the_chart_covers_the_run_and_its_faults(result: ScenarioResult) -> None:
    faults = result.metrics["relay and broker faults"]
    assert sum(faults["per_second"]["stored"]) == faults["orders_placed"]
    events = {event["event"] for event in faults["timeline"]}
    assert {
        "relay frozen", "relay let go", "relay killed (SIGKILL)", "relay started",
        "kafka stopped", "kafka started"} <= events  # fmt: skip
    assert faults["other_broker_during_outage"] > 0
    assert failed(faults) == []


def test_two_relays_on_one_backlog_publish_each_order_once(result: ScenarioResult) -> None:
    competing = result.metrics["competing relays"]
    assert competing["backlog"] == competing["orders_placed"] == 300
    for broker in BROKERS:
        side = competing[broker]
        assert (side["delivered"], side["lost"], side["duplicates"]) == (300, 0, 0), broker
    assert failed(competing) == []


def test_the_dual_write_leaves_orders_in_one_broker_and_not_the_other(
    result: ScenarioResult,
) -> None:
    dual = result.metrics["dual write"]
    assert dual["orders_stored"] == dual["orders_placed"]  # the commit comes first
    assert dual["answers"].get("503", 0) > 0
    assert dual["in_rabbitmq_not_kafka"] > 0
    assert dual["kafka"]["lost"] == dual["in_rabbitmq_not_kafka"]
    # Back on the outbox, the relay publishes what the dual write left pending.
    assert dual["in_kafka_once_the_relay_took_over"] == dual["orders_placed"]
    assert failed(dual) == []
    assert_holds(result)
