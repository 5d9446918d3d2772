"""The outbox experiments' verdicts and counts (scenarios/idempotency_and_outbox), no Docker.

Every check is fed a run where its property failed: a lost order, a copy
from two relays at once, a broker that stopped receiving with the other, a
dual write that happened to reach both brokers.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from scenarios.idempotency_and_outbox import counting, outbox
from scenarios.result import NotShown
from tests.unit.verdict_cases import (
    Breakage,
    assert_breaking_fails_only,
    assert_every_check_can_fail,
)


def side(**figures: int) -> dict[str, int]:
    return {"delivered": 300, "lost": 0, "duplicates": 0, "not_stored": 0,
            "order_violations": 0} | figures  # fmt: skip


def faults_run() -> dict[str, Any]:
    return {"orders_stored": 300, "rabbitmq": side(duplicates=4), "kafka": side(duplicates=4),
            "other_broker_during_outage": 140}  # fmt: skip


def _set(path: tuple[str, ...], value: Any) -> Breakage:
    def breakage(m: dict[str, Any]) -> None:
        target = m
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return breakage


FAULTS_BROKEN: dict[str, tuple[Breakage, str]] = {
    "nothing stored": (_set(("orders_stored",), 0), "orders were stored"),
    "kafka lost one": (_set(("kafka", "lost"), 1),
                       "every stored order reached both brokers (0 lost)"),
    "a message with no order": (_set(("rabbitmq", "not_stored"), 1),
                                "nothing reached a broker that was not stored"),
    "out of order": (_set(("rabbitmq", "order_violations"), 1),
                     "each customer's orders arrived in order"),
    "the other broker stalled": (_set(("other_broker_during_outage",), 0),
                                 "the other broker kept receiving during the outage"),
}  # fmt: skip


@pytest.mark.parametrize("case", FAULTS_BROKEN)
def test_each_broken_fault_property_fails_its_own_check(case: str) -> None:
    assert_breaking_fails_only(outbox.fault_checks, faults_run(), *FAULTS_BROKEN[case])


def test_every_fault_check_has_a_failing_case() -> None:
    assert_every_check_can_fail(outbox.fault_checks, faults_run(), FAULTS_BROKEN)


def competing_run() -> dict[str, Any]:
    return {"backlog": 300, "replicas": 2, "rabbitmq": side(), "kafka": side(),
            "published_per_replica": {"relay-1": {"rabbitmq": 160.0, "kafka": 150.0},
                                      "relay-2": {"rabbitmq": 140.0, "kafka": 150.0}}}  # fmt: skip


COMPETING_BROKEN: dict[str, tuple[Breakage, str]] = {
    "no backlog": (_set(("backlog",), 0), "a backlog built up while no relay ran"),
    "one replica ran": (_set(("replicas",), 1), "both replicas published part of it"),
    "a copy": (_set(("kafka", "duplicates"), 1), "no order published twice (SKIP LOCKED)"),
    "a loss": (_set(("rabbitmq", "lost"), 1), "0 lost"),
    "out of order": (_set(("kafka", "order_violations"), 2), "each customer's orders in order"),
}  # fmt: skip


@pytest.mark.parametrize("case", COMPETING_BROKEN)
def test_each_broken_competing_property_fails_its_own_check(case: str) -> None:
    assert_breaking_fails_only(outbox.competing_checks, competing_run(), *COMPETING_BROKEN[case])


def test_every_competing_check_has_a_failing_case() -> None:
    assert_every_check_can_fail(outbox.competing_checks, competing_run(), COMPETING_BROKEN)


def dual_write_run() -> dict[str, Any]:
    return {"broker_stopped": "kafka", "answers": {"503": 20}, "in_rabbitmq_not_kafka": 20}


DUAL_BROKEN: dict[str, tuple[Breakage, str]] = {
    "no 503": (_set(("answers",), {"201": 20}),
               "the api refused what a broker did not confirm (503)"),
    "both brokers got them": (_set(("in_rabbitmq_not_kafka",), 0),
                              "orders stored and in rabbitmq, missing from kafka"),
}  # fmt: skip


@pytest.mark.parametrize("case", DUAL_BROKEN)
def test_each_broken_dual_write_property_fails_its_own_check(case: str) -> None:
    assert_breaking_fails_only(outbox.dual_write_checks, dual_write_run(), *DUAL_BROKEN[case])


def test_every_dual_write_check_has_a_failing_case() -> None:
    assert_every_check_can_fail(outbox.dual_write_checks, dual_write_run(), DUAL_BROKEN)


# --- counting --------------------------------------------------------------------------


def d(order: str, sequence: int, customer: str = "C-001", at: float = 0.0) -> counting.Delivery:
    return counting.Delivery(f"e-{order}", order, customer, sequence, at)


def test_the_broker_report_counts_lost_copies_and_strangers() -> None:
    deliveries = [d("O-1", 1), d("O-2", 2), d("O-2", 2), d("O-9", 3)]
    report = counting.broker_report(["O-1", "O-2", "O-3"], deliveries)
    assert report == {"delivered": 2, "lost": 1, "duplicates": 1, "not_stored": 1,
                      "order_violations": 0}  # fmt: skip


def test_a_copy_arriving_late_is_not_an_order_violation() -> None:
    """Sent again after a relay kill: the first copy kept the order."""
    assert counting.order_violations([d("O-1", 1), d("O-2", 2), d("O-1", 1)]) == 0


def test_an_earlier_order_arriving_after_a_later_one_is() -> None:
    assert counting.order_violations([d("O-2", 2), d("O-1", 1)]) == 1
    assert counting.order_violations([d("O-2", 2), d("O-1", 1, customer="C-002")]) == 0


def test_per_second_bins_drop_what_falls_outside() -> None:
    assert counting.per_second([100.2, 100.9, 101.5, 99.0, 104.0], t0=100.0, seconds=3) == [
        2, 1, 0]  # fmt: skip


def test_customer_ids_are_checked_before_they_reach_sql() -> None:
    with pytest.raises(ValueError, match="not customer ids"):
        counting._sql_list(["C-001", "C-1'); DROP TABLE sandbox.orders; --"])
    assert counting._sql_list(["C-001", "C-002"]) == "'C-001','C-002'"


def test_new_customers_fit_the_models_pattern() -> None:
    customers = counting.new_customers(12)
    assert len(set(customers)) == 12
    assert all(len(c) == 10 and c[2:].isdigit() for c in customers)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"location": "/orders/O-0123456789ab"}, {}, "O-0123456789ab"),
        ({}, {"order_id": "O-1"}, "O-1"),
        ({}, {"id": "O-2"}, "O-2"),
        ({}, {"detail": "no"}, None),
    ],
)
def test_the_order_id_comes_from_location_or_the_body(
    headers: dict[str, str], body: dict[str, str], expected: str | None
) -> None:
    response = httpx.Response(201, headers=headers, json=body)
    assert outbox.order_id_of(response) == expected


def test_one_replica_taking_the_whole_backlog_is_not_shown_not_failed() -> None:
    run = competing_run()
    run["published_per_replica"]["relay-2"] = {"rabbitmq": 0.0, "kafka": 0.0}
    assert isinstance(outbox.competing_checks(run)["both replicas published part of it"], NotShown)


def test_a_slow_broker_stop_does_not_shorten_the_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    """`docker compose stop` took seconds on a busy machine, and the start came right
    after it: the outage window in which the other broker is counted was 2.5 s, not 8."""
    monkeypatch.setattr(outbox, "_compose", lambda *args: None)
    for name in ("kill_relays", "start_relays", "start_broker"):
        monkeypatch.setattr(outbox, name, lambda *args: None)
    monkeypatch.setattr(outbox, "stop_broker", lambda broker: time.sleep(0.3))
    plan = outbox.Schedule(freeze_at_s=0, freeze_s=0, kill_after_thaw_s=0, relay_down_s=0,
                           stop_broker_at_s=0.05, broker_down_s=0.2, tail_s=0)  # fmt: skip
    timeline: list[tuple[str, float]] = []
    outbox._run_faults(plan, "kafka", timeline, time.time())
    moments = dict(timeline)
    assert moments["kafka stopped"] >= 0.3  # marked once the broker is down
    assert moments["kafka started"] - moments["kafka stopped"] >= 0.2
