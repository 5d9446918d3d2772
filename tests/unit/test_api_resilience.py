"""The api's retry budget, backoff and circuit breaker (services/api/resilience.py)."""

from __future__ import annotations

import random

from api.resilience import BACKOFF_CAP_S, CircuitBreaker, RetryBudget, backoff_s


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_the_threshold_then_probes_once_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker("x", failure_threshold=3, open_for_s=2.0, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failed()
    assert breaker.state == "closed"
    breaker.failed()
    assert breaker.state == "open" and not breaker.allow()  # fails fast
    clock.now += 2.0
    assert breaker.allow() and breaker.state == "half-open"
    assert not breaker.allow()  # one probe at a time
    breaker.succeeded()
    assert breaker.state == "closed" and breaker.allow()


def test_a_failed_probe_opens_the_breaker_again_for_a_full_period() -> None:
    clock = Clock()
    breaker = CircuitBreaker("x", failure_threshold=1, open_for_s=2.0, clock=clock)
    breaker.failed()
    clock.now += 2.0
    assert breaker.allow()
    breaker.failed()
    assert breaker.state == "open"
    clock.now += 1.9
    assert not breaker.allow()


def test_a_success_resets_the_count_of_failures_in_a_row() -> None:
    breaker = CircuitBreaker("x", failure_threshold=2, clock=Clock())
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    assert breaker.state == "closed"


def test_the_retry_budget_allows_a_tenth_of_the_calls_as_retries() -> None:
    budget = RetryBudget(ratio=0.1, cap=10, tokens=0)
    spent = 0
    for _ in range(1000):
        budget.earn()
        spent += budget.spend()
    assert spent == 100
    assert not RetryBudget(tokens=0.5).spend()


def test_backoff_is_jittered_and_capped() -> None:
    rng = random.Random(7)
    waits = [backoff_s(retry, rng) for retry in range(10) for _ in range(50)]
    assert all(0 <= w <= BACKOFF_CAP_S for w in waits)
    assert len({round(w, 4) for w in waits}) > 400  # not in lockstep
