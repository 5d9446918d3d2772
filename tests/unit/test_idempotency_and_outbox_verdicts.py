"""The idempotency part's verdicts, and the lesson's chart data, with no Docker.

Every check is fed a run where its property failed: an answer that was not
cut, a retry without a key that stored nothing more, a key that still made
two rows, a replay not marked, a 422 or 409 that did not come, a toxic left
on the proxy. (The outbox parts' verdicts: test_idempotency_and_outbox_outbox.py.)
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from scenarios.idempotency_and_outbox import idempotency
from scenarios.idempotency_and_outbox.idempotency import Attempt
from tests.unit.verdict_cases import Breakage, verdict_tests

# The module, not the function the lesson's package exports under the same name.
render = importlib.import_module("scenarios.idempotency_and_outbox.render")


def cut_run(with_key: bool) -> dict[str, Any]:
    if with_key:
        return {"idempotency_key": True, "orders_meant": 10, "attempts": 20, "cut": 10,
                "answers": {"0": 10, "201 replayed": 10}, "replayed": 10, "rows": 10,
                "rows_per_order": {"1": 10}, "duplicates": 0,
                "answered_ids_stored": 10}  # fmt: skip
    return {"idempotency_key": False, "orders_meant": 10, "attempts": 20, "cut": 10,
            "answers": {"0": 10, "201": 10}, "replayed": 0, "rows": 20,
            "rows_per_order": {"2": 10}, "duplicates": 10, "answered_ids_stored": 10}  # fmt: skip


def clean_run() -> dict[str, Any]:
    return {
        "without_key": cut_run(with_key=False),
        "with_key": cut_run(with_key=True),
        "other_body": {"keys": 5, "first_answers": {"201": 5},
                       "other_body_answers": {"422": 5}, "rows": 5},
        "in_flight": {"first_seen_waiting": True, "lock_held_s": 0.12,
                      "first": {"status": 201, "replayed": False, "order_id": "O-1", "error": ""},
                      "during_answers": {"409": idempotency.IN_FLIGHT_RETRIES},
                      "after": {"status": 201, "replayed": True, "order_id": "O-1", "error": ""},
                      "rows": 1},
        "left_configured": [],
    }  # fmt: skip


def put(path: tuple[str, ...], value: Any) -> Breakage:
    def breakage(m: dict[str, Any]) -> None:
        target = m
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return breakage


CUT = "every order's first answer was cut (no answer reached the client)"
DUPLICATES = "without a key, every attempt was stored: the retries made duplicates"
ONE_ROW = "with a key, exactly one order per order meant"
REPLAYED = "with a key, each retry got the first answer, marked Idempotent-Replayed"
OTHER_BODY = "the same key with another body: 422, nothing more stored"
IN_FLIGHT = "the same key while its first request is in flight: 409, then one order"
LEFT = "no toxic left on the lesson's Toxiproxy"

BROKEN: dict[str, tuple[Breakage, str]] = {
    "an answer got through": (put(("with_key", "cut"), 9), CUT),
    "no cut at all": (put(("without_key", "cut"), 0), CUT),
    "a cut attempt not stored": (put(("without_key", "rows"), 19), DUPLICATES),
    "no duplicates without a key": (put(("without_key", "duplicates"), 0), DUPLICATES),
    "two rows with a key": (put(("with_key", "rows"), 11), ONE_ROW),
    "one order meant has none": (put(("with_key", "rows_per_order"), {"0": 1, "1": 8, "2": 1}),
                                 ONE_ROW),
    "a replay not marked": (put(("with_key", "replayed"), 9), REPLAYED),
    "an answer naming no stored order": (put(("with_key", "answered_ids_stored"), 9), REPLAYED),
    "another body accepted": (put(("other_body", "other_body_answers"), {"201": 5}), OTHER_BODY),
    "another body stored": (put(("other_body", "rows"), 6), OTHER_BODY),
    "never seen in flight": (put(("in_flight", "first_seen_waiting"), False), IN_FLIGHT),
    "a second request went through": (put(("in_flight", "during_answers"),
                                          {"201": 1, "409": 4}), IN_FLIGHT),
    "the held request failed": (put(("in_flight", "first", "status"), 504), IN_FLIGHT),
    "two rows for one key": (put(("in_flight", "rows"), 2), IN_FLIGHT),
    "a toxic left": (put(("left_configured",), ["api: toxic cut-the-answer"]), LEFT),
}  # fmt: skip


test_each_breakage_fails_its_own_check, test_every_check_has_a_failing_case = verdict_tests(
    idempotency.checks, clean_run, BROKEN
)


def test_answers_are_counted_by_status_replays_apart() -> None:
    attempts = [Attempt(0, False, None, "RemoteProtocolError"), Attempt(201, True, "O-1"),
                Attempt(201, False, "O-2"), Attempt(0, False, None)]  # fmt: skip
    assert idempotency._statuses(attempts) == {"0": 2, "201": 1, "201 replayed": 1}


def test_rows_per_order_is_a_histogram() -> None:
    assert idempotency._histogram([2, 2, 1, 2]) == {"1": 1, "2": 3}


def test_the_cut_closes_at_the_first_byte_of_the_answer() -> None:
    # limit_data of 0 bytes downstream: nothing of the answer, whatever its size.
    assert idempotency.CUT_TOXIC == ("limit_data", {"bytes": 0})


def test_the_held_request_waits_less_than_the_apis_statement_timeout() -> None:
    from api.settings import Settings  # noqa: PLC0415 (the api's settings, read only here)

    assert Settings().database_statement_timeout_ms > idempotency.MAX_HOLD_S * 1000


def faults_run() -> dict[str, Any]:
    return {"per_second": {"stored": [20, 20, 0], "rabbitmq": [18, 22, 0], "kafka": [0, 0, 40]},
            "timeline": [{"event": "kafka stopped", "t_s": 0.5},
                         {"event": "orders stop", "t_s": 2.0}]}  # fmt: skip


def test_the_chart_draws_cumulative_counts_per_second() -> None:
    lines = render.chart_lines(faults_run())
    assert lines["orders stored (outbox created_at)"] == [(1, 20), (2, 40), (3, 40)]
    assert lines["confirmed by Kafka (kafka_published_at)"] == [(1, 0), (2, 0), (3, 40)]


def test_the_chart_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "RESULTS_DIR", tmp_path)
    path = render.faults_chart(faults_run())
    assert path == str(tmp_path / render.CHART)
    assert (tmp_path / render.CHART).read_bytes().startswith(b"\x89PNG")


def test_the_report_prints_every_part() -> None:
    console = Console(record=True, width=200)
    render._render_idempotency(clean_run(), console)
    text = console.export_text()
    assert "with an Idempotency-Key" in text and "another body" in text
