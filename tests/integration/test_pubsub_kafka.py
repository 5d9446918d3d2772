"""The pubsub-kafka scenario against the real broker: one run, its results asserted.

The run takes about 30 s and restarts the Kafka container once (the
reliability part); it leaves the broker healthy.
"""

import copy
import json
from typing import Any

import pytest

from order_events import kafka as events
from order_events.model import POISON, InvalidEventError, OrderPlaced
from scenarios import pubsub_kafka
from scenarios.pubsub_kafka import reliability, semantics
from scenarios.result import ScenarioResult
from tests.helpers import assert_holds

PARTITIONS = {f"{events.ORDERS_TOPIC}-{p}" for p in range(events.ORDERS_PARTITIONS)}


@pytest.fixture(scope="module")
def s(result: ScenarioResult) -> dict[str, Any]:
    return result.metrics["semantics"]


def poison_reason() -> str:
    with pytest.raises(InvalidEventError) as refused:
        OrderPlaced.from_bytes(POISON)
    return str(refused.value)


def test_every_property_holds(result: ScenarioResult) -> None:
    assert_holds(result)
    # The stored checks are what the verdicts say of the stored metrics.
    assert result.metrics["checks"] == pubsub_kafka.verdicts(result.metrics)


def test_metrics_are_json(result: ScenarioResult) -> None:
    assert json.loads(json.dumps(result.to_json()))["scenario"] == "pubsub-kafka"


def test_per_key_order_holds(result: ScenarioResult, s: dict[str, Any]) -> None:
    assert s["queue"]["order_violations"] == 0, s["queue"]["order_violation_examples"]
    assert s["fanout"]["order_violations"] == 0, s["fanout"]["order_violation_examples"]
    assert result.metrics["reliability"]["order_violations"] == 0


def test_keys_spread_over_all_partitions(s: dict[str, Any]) -> None:
    published = s["published"]
    assert set(published["per_partition"]) == PARTITIONS
    customers = [c for cs in published["customers_per_partition"].values() for c in cs]
    assert len(customers) == len(set(customers)) == semantics.CUSTOMERS  # one partition per key


def test_one_group_splits_the_partitions_without_overlap(s: dict[str, Any]) -> None:
    two = s["queue"]["two_members"]
    assignment = two["assignment"]
    assert set(assignment) == {"consumer-1", "consumer-2"}
    assert all(assignment.values()), assignment  # both members got partitions
    owned = [tp for tps in assignment.values() for tp in tps]
    assert sorted(owned) == sorted(PARTITIONS)  # all covered, none twice
    per_consumer = s["queue"]["per_consumer"]
    assert sum(per_consumer.values()) == semantics.EVENTS
    # Each partition was processed by whoever owned it; never by two at once.
    assert s["queue"]["per_partition"] == s["published"]["per_partition"]


def test_joining_and_leaving_rebalance_and_processing_goes_on(s: dict[str, Any]) -> None:
    queue = s["queue"]
    changes = queue["timeline"][1:]
    assert [c["event"] for c in changes] == ["consumer-3 joins", "consumer-1 leaves"]
    joined, left = changes
    assert set(joined["assignment"]) == {"consumer-1", "consumer-2", "consumer-3"}
    assert set(left["assignment"]) == {"consumer-2", "consumer-3"}
    for change in changes:
        assert change["coverage"]["holds"], change
        assert change["processed_after_settling"] > 0, change
    assert queue["unique"] == semantics.EVENTS
    assert queue["lost"] == 0


def test_second_group_receives_every_message(s: dict[str, Any]) -> None:
    fanout = s["fanout"]
    assert fanout["unique"] == semantics.EVENTS
    assert fanout["lost"] == 0
    assert fanout["per_partition"] == s["published"]["per_partition"]


def test_lag_is_the_batch_before_and_zero_after(s: dict[str, Any]) -> None:
    published = semantics.EVENTS + 1  # and the poison record
    lag = s["lag"]
    assert lag["after publishing, nobody consuming"]["queue"]["total"] == published
    assert lag["after the queue group"] == {
        "queue": dict.fromkeys([*sorted(PARTITIONS), "total"], 0),
        "fanout": lag["after publishing, nobody consuming"]["fanout"],
    }
    assert all(group["total"] == 0 for group in lag["after the fanout group"].values())


def test_replay_returns_as_many_as_were_published(result: ScenarioResult) -> None:
    replay = result.metrics["replay"]
    earliest, by_time = replay["from_earliest"], replay["from_timestamp"]
    assert earliest["this_run_replayed"] == earliest["published_this_run"] == semantics.EVENTS + 1
    assert earliest["records_in_log"] >= earliest["published_this_run"]
    # The second half and the poison record were published after the timestamp.
    assert by_time["replayed"] == by_time["expected"] == semantics.EVENTS // 2 + 1


def test_poison_is_in_the_dead_letter_topic_with_its_reason(s: dict[str, Any]) -> None:
    dead = s["dead_letter"]
    poison = s["published"]["poison"]
    assert dead["source"] == f"{events.ORDERS_TOPIC}/{poison['partition']}/{poison['offset']}"
    assert {r["group"] for r in dead["records"]} == set(s["groups"].values())
    for record in dead["records"]:
        assert record["reason"] == poison_reason()
        assert record["event_id"] == poison["event_id"]
        assert record["value_unchanged"]
    assert s["queue"]["dead_lettered"] == s["fanout"]["dead_lettered"] == 1


def test_broker_restart_loses_nothing_acknowledged(result: ScenarioResult) -> None:
    r = result.metrics["reliability"]
    timeline = r["timeline_s"]
    assert timeline["restart_sent"] < timeline["stream_done"]  # the restart was mid-stream
    assert "healthy" in timeline
    assert r["acknowledged"] == reliability.EVENTS
    assert r["lost"] == 0, r["lost_examples"]
    assert r["received_unique"] == reliability.EVENTS
    assert r["gave_up"] == 0


def test_a_lost_event_would_fail_the_scenario(result: ScenarioResult) -> None:
    # The verdicts read the same metrics the tests do: make sure they can say no.
    broken = copy.deepcopy(result.metrics)
    broken["reliability"]["holds"] = False
    broken["semantics"]["queue"]["lost"] = 1
    failed = [claim for claim, holds in pubsub_kafka.verdicts(broken).items() if not holds]
    assert "queue: every event processed (0 lost)" in failed
    assert "broker restart: 0 acknowledged events lost" in failed
