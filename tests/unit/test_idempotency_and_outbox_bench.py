"""The benchmark's targets, judged from its figures alone (no Docker)."""

from __future__ import annotations

from typing import Any

from bench import idempotency_and_outbox as bench


def latencies(p99: float, events: int = 500) -> dict[str, Any]:
    return {"p50": p99 / 3, "p95": p99 / 2, "p99": p99, "max": p99 * 2, "events": events}


def result(p99_ratio: float, rabbitmq: dict[str, Any], kafka: dict[str, Any]) -> dict[str, Any]:
    return {"outbox_vs_dual_write": {"per_s": 1.2, "p99": p99_ratio},
            "paced": {"commit_to_broker_ms": {"rabbitmq": rabbitmq, "kafka": kafka}}}  # fmt: skip


def test_the_p99_target_is_at_most_one_and_a_half_times_the_dual_write() -> None:
    assert bench.meets_p99_target(result(1.5, latencies(20), latencies(20)))
    assert not bench.meets_p99_target(result(1.51, latencies(20), latencies(20)))


def test_commit_to_broker_needs_every_broker_under_100_ms() -> None:
    assert bench.meets_commit_to_broker_target(result(1.0, latencies(40), latencies(99)))
    assert not bench.meets_commit_to_broker_target(result(1.0, latencies(40), latencies(100)))


def test_a_run_where_no_event_was_confirmed_misses_the_target() -> None:
    empty = {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0, "events": 0}
    assert not bench.meets_commit_to_broker_target(result(1.0, latencies(40), empty))


def test_the_summary_compares_the_outbox_with_the_dual_write() -> None:
    medians = {bench.OUTBOX: {"requests_per_s": 250.0, "p50_ms": 58, "p99_ms": 200.0, "errors": 0},
               bench.DUAL_WRITE: {"requests_per_s": 125.0, "p50_ms": 100, "p99_ms": 400.0,
                                  "errors": 0}}  # fmt: skip
    summary = bench.summary(medians, {"commit_to_broker_ms": {}}, {})
    assert summary["outbox_vs_dual_write"] == {"per_s": 2.0, "p99": 0.5}
