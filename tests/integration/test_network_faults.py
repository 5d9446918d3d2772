"""Network faults lesson, through real Toxiproxy: each behaviour asserted on run().

The lesson's services sit behind the `network-faults` profile; conftest's
`lesson_services` starts them for this module (as `make up LESSON=network-faults` does)
and stops them after it.
"""

from __future__ import annotations

import pytest

from comms_sandbox import toxiproxy
from scenarios.result import ScenarioResult
from tests.helpers import assert_holds, failed


def test_latency_past_the_deadline_is_a_prompt_504_and_the_deadline_reaches_pricing(
    result: ScenarioResult,
) -> None:
    deadlines = result.metrics["deadlines"]
    assert failed(deadlines) == [], deadlines
    assert all(call["status"] == 200 for call in deadlines["before"])


def test_naive_retries_multiply_the_load_and_budgeted_ones_do_not(result: ScenarioResult) -> None:
    retries = result.metrics["retries"]
    assert failed(retries) == [], retries["policies"]


def test_the_breaker_opens_fails_fast_probes_and_closes(result: ScenarioResult) -> None:
    breaker = result.metrics["breaker"]
    assert failed(breaker) == [], breaker["transitions"]


def test_cut_and_throttled_connections_lose_no_accepted_order(result: ScenarioResult) -> None:
    faults = result.metrics["connections"]["faults"]
    assert {name: failed(part) for name, part in faults.items()} == {name: [] for name in faults}


def test_a_partition_is_a_503_naming_the_broker_and_loses_no_accepted_order(
    result: ScenarioResult,
) -> None:
    partition = result.metrics["partition"]
    assert failed(partition) == [], partition
    assert partition["lost"] == {"rabbitmq": [], "kafka": []}


def test_a_partition_from_the_database_is_a_prompt_503_and_nothing_half_written(
    result: ScenarioResult,
) -> None:
    database = result.metrics["database"]
    assert failed(database) == [], database
    assert all(call["status"] == 503 for call in database["during"])
    assert database["stored"]["orders_without_event"] == 0
    assert database["lost"] == {"rabbitmq": [], "kafka": []}


def test_a_slow_consumer_is_held_back_by_the_broker(result: ScenarioResult) -> None:
    backpressure = result.metrics["backpressure"]
    assert failed(backpressure) == [], {k: v for k, v in backpressure.items() if k != "samples"}


def test_no_fault_is_left_configured_after_the_run(result: ScenarioResult) -> None:
    assert result.metrics["left_configured"] == []
    assert toxiproxy.leftovers() == []
    assert_holds(result)


def test_an_interrupted_run_leaves_no_fault_and_the_next_starts_clean(
    result: ScenarioResult,
) -> None:
    with pytest.raises(RuntimeError), toxiproxy.clean():
        toxiproxy.add_toxic("pricing", "interrupted", "latency", {"latency": 1000})
        toxiproxy.set_enabled("rabbitmq", False)
        raise RuntimeError("stopped midway")
    assert toxiproxy.leftovers() == []
    toxiproxy.add_toxic("kafka", "left-behind", "latency", {"latency": 1000})  # a crashed run
    with toxiproxy.clean():
        assert toxiproxy.leftovers() == []
