"""Requests per identity (services/api/quota.py): when the sliding window refuses, and for
how long."""

from __future__ import annotations

import asyncio
import time

import scenarios.auth as auth_lesson
from api import bearer, quota
from comms_sandbox.compose import compose_file
from scenarios.auth import rotation


def test_up_to_the_limit_passes() -> None:
    assert quota.retry_after(quota.LIMIT, oldest=100.0, now=105.0) is None


def test_over_the_limit_waits_until_the_oldest_leaves_the_window() -> None:
    wait = quota.retry_after(quota.LIMIT + 1, oldest=100.0, now=103.5)
    assert wait == 7  # 100 + 10 - 103.5 = 6.5, rounded up: never early


def test_a_retry_after_is_never_zero() -> None:
    assert quota.retry_after(quota.LIMIT + 1, oldest=100.0, now=110.0) == 1


def test_the_refusal_says_who_and_when() -> None:
    error = quota.RateLimitedError("C-002", 7)
    assert "C-002" in str(error) and "retry after 7 s" in str(error)


class SlowPipeline:
    """A Redis pipeline that never answers (Redis not running: redis-py retries connecting)."""

    async def __aenter__(self) -> SlowPipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def __getattr__(self, _name: str) -> object:
        return lambda *args, **kwargs: None

    async def execute(self) -> list[object]:
        await asyncio.sleep(30)
        return []


class SlowRedis:
    def pipeline(self, transaction: bool) -> SlowPipeline:
        return SlowPipeline()


def test_a_redis_that_does_not_answer_lets_the_request_pass_at_once() -> None:
    started = time.monotonic()
    asyncio.run(quota.charge(SlowRedis(), "C-002"))  # type: ignore[arg-type]
    assert time.monotonic() - started < quota.REDIS_WAIT_S + 1


def test_the_scenario_knows_the_api_s_limits() -> None:
    """The host side cannot import services/: its copies are kept in step here."""
    assert (auth_lesson.LIMIT, auth_lesson.WINDOW_S) == (quota.LIMIT, quota.WINDOW_S)
    assert auth_lesson.LEEWAY_S == bearer.LEEWAY_S
    assert rotation.KEYS_REFRESH_S == bearer.KEYS_REFRESH_S
    api_auth = compose_file()["services"]["api-auth"]["environment"]
    assert float(api_auth["API_AUTH_KEYS_MAX_AGE_S"]) == rotation.KEYS_MAX_AGE_S
