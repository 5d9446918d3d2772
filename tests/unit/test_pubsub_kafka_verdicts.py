"""The pubsub-kafka lesson's verdicts, fed a clean run and runs where one property failed."""

from __future__ import annotations

from typing import Any

import pytest

from scenarios.pubsub_kafka import verdicts
from scenarios.result import all_hold
from tests.unit.verdict_cases import Breakage, verdict_tests


def rebalance(label: str, processed_after: int = 40, covered: bool = True) -> dict[str, Any]:
    return {"event": label, "processed_after_settling": processed_after,
            "coverage": {"holds": covered}}  # fmt: skip


def clean_run() -> dict[str, Any]:
    at_end = {"queue": {"orders-0": 0, "total": 0}, "fanout": {"orders-0": 0, "total": 0}}
    return {
        "run_id": "0a1b2c3d",
        "semantics": {
            "queue": {
                "two_members": {"holds": True},
                "timeline": [
                    {"event": "consumer-1 and consumer-2 joined"},
                    rebalance("consumer-3 joins"),
                    rebalance("consumer-1 leaves"),
                ],
                "lost": 0,
                "order_violations": 0,
            },
            "fanout": {"lost": 0, "order_violations": 0},
            "lag": {"after the fanout group": at_end},
            "dead_letter": {"holds": True},
        },
        "replay": {"from_earliest": {"holds": True}, "from_timestamp": {"holds": True}},
        "retention": {"log_start_before": {"orders-0": 0}, "log_start_after": {"orders-0": 0}},
        "reliability": {"holds": True},
    }


def failing(metrics: dict[str, Any]) -> list[str]:
    return [check for check, holds in verdicts(metrics).items() if not holds]


def test_a_clean_run_holds() -> None:
    assert failing(clean_run()) == []


def semantics(metrics: dict[str, Any]) -> dict[str, Any]:
    return metrics["semantics"]


BROKEN: dict[str, tuple[Breakage, str]] = {
    "two members share a partition": (
        lambda m: semantics(m)["queue"]["two_members"].update(holds=False),
        "queue: two members cover all partitions, no overlap",
    ),
    "a partition left out after a rebalance": (
        lambda m: semantics(m)["queue"]["timeline"][2].update(coverage={"holds": False}),
        "queue: every rebalance leaves all partitions covered",
    ),
    "processing stopped after a rebalance": (
        lambda m: semantics(m)["queue"]["timeline"][1].update(processed_after_settling=0),
        "queue: processing goes on after each rebalance",
    ),
    "an event lost by the queue group": (
        lambda m: semantics(m)["queue"].update(lost=1),
        "queue: every event processed (0 lost)",
    ),
    "an event lost by the fanout group": (
        lambda m: semantics(m)["fanout"].update(lost=3),
        "fanout: the second group got every event",
    ),
    "a customer's events out of order": (
        lambda m: semantics(m)["fanout"].update(order_violations=1),
        "per-key order (0 violations)",
    ),
    "lag left at the end": (
        lambda m: semantics(m)["lag"]["after the fanout group"]["queue"].update(total=2),
        "lag 0 for both groups at the end",
    ),
    "no lag measured at the end": (
        lambda m: semantics(m)["lag"].update({"after the fanout group": {}}),
        "lag 0 for both groups at the end",
    ),
    "the poison not dead-lettered": (
        lambda m: semantics(m)["dead_letter"].update(holds=False),
        "poison dead-lettered with its reason, once per group",
    ),
    "replay from earliest short": (
        lambda m: m["replay"]["from_earliest"].update(holds=False),
        "replay from earliest returns every record published",
    ),
    "replay from a timestamp wrong": (
        lambda m: m["replay"]["from_timestamp"].update(holds=False),
        "replay from a timestamp returns the later records",
    ),
    "consuming moved the log start": (
        lambda m: m["retention"].update(log_start_after={"orders-0": 7}),
        "retention: consuming removed nothing",
    ),
    "an acknowledged event lost in the restart": (
        lambda m: m["reliability"].update(holds=False),
        "broker restart: 0 acknowledged events lost",
    ),
}


test_each_breakage_fails_its_own_check, test_every_check_has_a_failing_case = verdict_tests(
    verdicts, clean_run, BROKEN
)


def test_no_rebalance_seen_shows_no_rebalance() -> None:
    metrics = clean_run()
    del semantics(metrics)["queue"]["timeline"][1:]
    assert failing(metrics) == [
        "queue: every rebalance leaves all partitions covered",
        "queue: processing goes on after each rebalance",
    ]


def test_each_part_alone_is_judged_on_its_own_checks_and_none_is_an_error() -> None:
    only_restart = {"run_id": "0a1b2c3d", "reliability": {"holds": False}}
    assert verdicts(only_restart) == {"broker restart: 0 acknowledged events lost": False}
    with pytest.raises(ValueError, match="no checks"):
        all_hold(verdicts({"run_id": "0a1b2c3d"}))
