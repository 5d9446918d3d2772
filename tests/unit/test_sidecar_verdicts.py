"""The sidecar lesson's checks, fed a clean run and runs where one property failed."""

from __future__ import annotations

from typing import Any

from scenarios.sidecar import FLAKY_CALLS, checks
from tests.unit.verdict_cases import Breakage, verdict_tests


def behaviour(**seen: Any) -> dict[str, Any]:
    return {"no_key_status": 401, "with_key_status": 200, "request_id": "9f2c",
            "flaky_statuses": {"200": FLAKY_CALLS}, "slow_status": 504, "slow_s": 2.0,
            "burst_statuses": {"200": 20, "429": 20}} | seen  # fmt: skip


def clean_run() -> dict[str, Any]:
    return {
        "with_sidecar": behaviour(retried_by_ambassador=FLAKY_CALLS),
        "without_sidecar": behaviour(
            no_key_status=200,
            request_id=None,
            slow_status=200,
            slow_s=3.0,
            flaky_statuses={"200": 5, "503": 5},
            burst_statuses={"200": 40},
        ),
        "adapter": {"app_requests_before": 7, "expected_after": 38, "seen_after": 38},
        "from_another_container": {
            "app port 9000": "ConnectionRefusedError",
            "ambassador port 8000": "connected",
        },
        "sidecar_words_in_app_code": [],
    }


BROKEN: dict[str, tuple[Breakage, str]] = {
    "no key let through": (
        lambda m: m["with_sidecar"].update(no_key_status=200),
        "no key: 401 with the sidecar, 200 without",
    ),
    "no request id added": (
        lambda m: m["with_sidecar"].update(request_id=None),
        "the sidecar adds a request id, the bare app none",
    ),
    "a 503 reached the client": (
        lambda m: m["with_sidecar"].update(flaky_statuses={"200": 9, "503": 1}),
        "retries hide the flaky app's 503s",
    ),
    "the log shows too few retries": (
        lambda m: m["with_sidecar"].update(retried_by_ambassador=FLAKY_CALLS - 2),
        "the ambassador's log shows the retries",
    ),
    "the slow call waited": (
        lambda m: m["with_sidecar"].update(slow_status=200),
        "the timeout answers 504, the bare app waits",
    ),
    "no rate limit": (
        lambda m: m["with_sidecar"].update(burst_statuses={"200": 40}),
        "the rate limit answers 429, the bare app never",
    ),
    "the adapter missed a request": (
        lambda m: m["adapter"].update(seen_after=37),
        "the adapter counted every request the app got",
    ),
    "the app's port reachable": (
        lambda m: m["from_another_container"].update({"app port 9000": "connected"}),
        "other containers reach the sidecar only",
    ),
    "the app's code knows its sidecar": (
        lambda m: m.update(sidecar_words_in_app_code=["main.py: x-api-key"]),
        "no sidecar word in the app's code",
    ),
}


test_each_breakage_fails_its_own_check, test_every_check_has_a_failing_case = verdict_tests(
    checks, clean_run, BROKEN
)
