"""The request-response lesson's summary and its checks, fed clean and failing runs."""

from __future__ import annotations

from typing import Any

import pytest

from scenarios import request_response
from scenarios.request_response import Exchange

MALFORMED = {"status": 422, "reasons": ["body.sku: String should match pattern"]}


def exchange(status: int | None, replica: str = "api-1") -> Exchange:
    if status is None:  # no answer at all: a connection error or a timeout
        return Exchange(None, 10.0, None, None, None, None, "ConnectError()")
    return Exchange(status, 0.01, replica, "172.18.0.5:8000", "req-1", "pricing-1")


def judged(exchanges: list[Exchange], malformed: dict[str, Any] = MALFORMED) -> dict[str, bool]:
    metrics = request_response.summarize(exchanges, duration_s=1.0, concurrency=4)
    return request_response.checks(metrics | {"malformed_request": malformed})


def test_every_request_answered_and_the_malformed_one_refused_holds() -> None:
    answered = [exchange(200, f"api-{1 + i % 3}") for i in range(30)]
    assert all(judged(answered).values())


@pytest.mark.parametrize("status", [500, 502, 429, None])
def test_one_failed_request_fails_the_summary(status: int | None) -> None:
    answered = [exchange(200) for _ in range(29)] + [exchange(status)]
    summary = request_response.summarize(answered, duration_s=1.0, concurrency=4)
    assert summary["errors"] == 1
    assert judged(answered) == {
        "every request answered 200": False,
        "a malformed body gets 422 with its reasons": True,
    }


def test_no_request_sent_shows_nothing_and_fails() -> None:
    assert not judged([])["every request answered 200"]


@pytest.mark.parametrize("status", [500, 200, 422])
def test_a_malformed_body_not_refused_with_reasons_fails(status: int) -> None:
    assert judged([exchange(200)], {"status": status, "reasons": []}) == {
        "every request answered 200": True,
        "a malformed body gets 422 with its reasons": False,
    }
