"""Execution models lesson on the real stack: the kernel's accept queue, the GIL, pooling.

The lesson's services sit behind the `execution-models` profile; conftest's
`lesson_services` starts them for this module (as `make up LESSON=execution-models` does)
and stops them after it.
"""

from __future__ import annotations

from scenarios.result import ScenarioResult
from tests.helpers import failed


def test_overflow_counters_rise_under_the_small_slow_queue_and_stay_0_under_the_good_one(
    result: ScenarioResult,
) -> None:
    accept_queue = result.metrics["accept_queue"]
    assert failed(accept_queue) == [], accept_queue["bursts"]


def test_cpu_bound_processes_beat_threads_in_one_process(result: ScenarioResult) -> None:
    models = result.metrics["models"]
    assert failed(models) == [], models["work"]


def test_a_blocking_call_in_an_async_handler_raises_a_fast_requests_p99(
    result: ScenarioResult,
) -> None:
    blocking = result.metrics["blocking"]
    assert failed(blocking) == [], blocking["calls"]


def test_pooled_requests_open_far_fewer_connections(result: ScenarioResult) -> None:
    pooling = result.metrics["pooling"]
    assert failed(pooling) == [], pooling
