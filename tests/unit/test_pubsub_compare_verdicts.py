"""The pubsub-compare lesson's checks, fed a clean run and runs where one property failed."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, uuid5

from comms_sandbox.order_readers import Received
from order_events.model import OrderPlaced
from scenarios import pubsub_compare
from tests.unit.verdict_cases import Breakage, verdict_tests


def side(**figures: Any) -> dict[str, Any]:
    return {"received": 100, "lost": 0, "duplicates": 0, "order_violations": 0,
            "delay_ms": {"p50": 4.0, "p95": 9.0, "p99": 12.0, "max": 15.0}} | figures  # fmt: skip


def clean_run() -> dict[str, Any]:
    return {
        "orders": 100,
        "accepted": 100,
        "refused": 0,
        "rabbitmq": side(left_in_queue_after_ack=0),
        "kafka": side(per_partition={"0": 40, "1": 20, "2": 40}, replayed_from_same_offsets=100),
    }


def one_refused(metrics: dict[str, Any]) -> None:
    """The api refused an order: neither broker got it, the replay reads 99 like the rest."""
    metrics.update(accepted=99, refused=1)
    metrics["kafka"]["replayed_from_same_offsets"] = 99


def failing(metrics: dict[str, Any]) -> list[str]:
    return [check for check, holds in pubsub_compare.checks(metrics).items() if not holds]


def test_a_clean_run_holds() -> None:
    assert failing(clean_run()) == []


BROKEN: dict[str, tuple[Breakage, str]] = {
    "an order refused": (
        one_refused,
        "every order accepted (201: stored)",
    ),
    "RabbitMQ lost one": (
        lambda m: m["rabbitmq"].update(lost=1),
        "RabbitMQ: 0 lost, 0 duplicates, 0 order violations",
    ),
    "Kafka delivered one twice": (
        lambda m: m["kafka"].update(duplicates=1),
        "Kafka: 0 lost, 0 duplicates, 0 order violations",
    ),
    "Kafka out of order for a customer": (
        lambda m: m["kafka"].update(order_violations=2),
        "Kafka: 0 lost, 0 duplicates, 0 order violations",
    ),
    "messages left in the queue": (
        lambda m: m["rabbitmq"].update(left_in_queue_after_ack=3),
        "RabbitMQ: the queue is empty after the acks",
    ),
    "the log read again returned fewer": (
        lambda m: m["kafka"].update(replayed_from_same_offsets=60),
        "Kafka: every accepted order read again from the same offsets",
    ),
}


test_each_breakage_fails_its_own_check, test_every_check_has_a_failing_case = verdict_tests(
    pubsub_compare.checks, clean_run, BROKEN
)


def placed(event_id: str, customer: str, sequence: int) -> OrderPlaced:
    return OrderPlaced(event_id=event_id, order_id=f"O-{sequence:06d}", customer_id=customer,
                       sequence=sequence, amount_cents=100)  # fmt: skip


def received(*events: OrderPlaced) -> Received:
    got = Received()
    for event in events:
        got.add(event)
    return got


OURS = [str(uuid5(NAMESPACE_URL, f"ours-{n}")) for n in range(3)]
THEIRS = [str(uuid5(NAMESPACE_URL, f"theirs-{n}")) for n in range(2)]


def test_only_this_runs_orders_are_judged() -> None:
    """Another lesson's customer going backwards (network-faults' C-5150) is not ours."""
    got = received(placed(OURS[0], "C-001", 1), placed(THEIRS[0], "C-5150", 10),
                   placed(OURS[1], "C-001", 2), placed(THEIRS[1], "C-5150", 2),
                   placed(OURS[2], "C-001", 3))  # fmt: skip
    report = pubsub_compare.side_report(got, set(OURS))
    assert report["order_violations"] == 0 and report["duplicates"] == 0
    assert report["received"] == 3 and report["lost"] == 0 and report["others_seen"] == 2


def test_our_own_orders_out_of_order_or_twice_are_counted() -> None:
    got = received(placed(OURS[1], "C-001", 2), placed(OURS[0], "C-001", 1),
                   placed(OURS[0], "C-001", 1))  # fmt: skip
    report = pubsub_compare.side_report(got, set(OURS))
    assert report["order_violations"] == 2 and report["duplicates"] == 1
    assert report["lost"] == 1
