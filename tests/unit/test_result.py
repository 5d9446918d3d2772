"""Judging a set of checks: no checks is an error, a failing check is named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scenarios.result import (
    SHARED_RESULTS,
    NotShown,
    ScenarioResult,
    all_hold,
    from_parts,
    outcome,
    run_once,
)
from tests.helpers import assert_holds, failing_checks

BUSY = NotShown("the machine was busy: 0.9 cores idle, 1.5 needed")


def test_all_hold_is_true_only_when_every_check_holds() -> None:
    assert all_hold({"a": True, "b": True})
    assert not all_hold({"a": True, "b": False})


def test_all_hold_refuses_an_empty_set() -> None:
    with pytest.raises(ValueError, match="no checks"):
        all_hold({})


def parts(**holds: dict[str, Any]) -> dict[str, Any]:
    return {part: {"holds": checks, "measured": 1} for part, checks in holds.items()}


def test_from_parts_names_each_check_after_its_part() -> None:
    result = from_parts("demo", parts(one={"x": True}, two={"y": False}), ("one", "two"))
    assert not result.ok
    assert result.metrics["checks"] == {"one: x": True, "two: y": False}
    assert result.metrics["one"]["measured"] == 1


def test_from_parts_holds_when_every_part_and_every_extra_check_holds() -> None:
    results = parts(one={"x": True})
    assert from_parts("demo", results, ("one",), {"whole run": True}).ok
    assert not from_parts("demo", results, ("one",), {"whole run": False}).ok


def test_from_parts_refuses_no_parts_and_a_part_with_no_checks() -> None:
    with pytest.raises(ValueError, match="no checks"):
        from_parts("demo", {}, ())
    with pytest.raises(ValueError, match="two"):
        from_parts("demo", parts(one={"x": True}, two={}), ("one", "two"))


def test_assert_holds_names_the_checks_that_did_not_hold() -> None:
    checks = {"every order accepted": True, "0 lost": False, "0 duplicates": False}
    failing = ScenarioResult("demo", False, {"checks": checks})
    assert failing_checks(failing) == ["0 lost", "0 duplicates"]
    with pytest.raises(AssertionError, match=r"did not hold: \['0 lost', '0 duplicates'\]"):
        assert_holds(failing)
    assert_holds(ScenarioResult("demo", True, {"checks": {"every order accepted": True}}))


def test_assert_holds_fails_without_named_checks_or_when_ok_disagrees() -> None:
    with pytest.raises(AssertionError, match="no named checks"):
        assert_holds(ScenarioResult("demo", True, {"errors": 0}))
    with pytest.raises(AssertionError, match="not ok although"):
        assert_holds(ScenarioResult("demo", False, {"checks": {"a": True}}))


def test_a_check_holds_fails_or_was_not_shown_with_a_reason() -> None:
    assert [outcome(True), outcome(False), outcome(BUSY)] == ["holds", "fails", "not shown"]
    assert outcome(str(BUSY)) == "not shown"  # as JSON reads it back
    assert outcome("") == "fails"  # no reason, no excuse
    with pytest.raises(ValueError):
        NotShown(" ")


def test_a_not_shown_check_is_no_bool() -> None:
    with pytest.raises(TypeError):
        all([True, BUSY])  # never silently counted as held


def test_a_run_with_a_check_not_shown_is_ok_on_the_others_and_says_which() -> None:
    result = from_parts("x", parts(part={"a": True, "b": BUSY}), ["part"])
    assert result.ok
    assert result.not_shown == {"part: b": str(BUSY)}
    assert not from_parts(
        "x", parts(part={"a": False, "b": BUSY}), ["part"]
    ).ok  # a failure still fails
    assert not from_parts("x", parts(part={"b": BUSY}), ["part"]).ok  # nothing shown, nothing ok


def test_not_shown_survives_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SHARED_RESULTS, str(tmp_path))
    run_once("busy", lambda: from_parts("busy", parts(part={"a": True, "b": BUSY}), ["part"]))
    again = run_once("busy", lambda: ScenarioResult("busy", False, {}))
    assert again.ok and again.not_shown == {"part: b": str(BUSY)}
    assert outcome(again.metrics["checks"]["part: b"]) == "not shown"


def test_assert_holds_accepts_a_check_not_shown_only_with_its_reason() -> None:
    assert_holds(ScenarioResult("demo", True, {"checks": {"a": True, "b": str(BUSY)}}))
    without_reason = ScenarioResult("demo", True, {"checks": {"a": True, "b": ""}})
    assert failing_checks(without_reason) == ["b"]
    with pytest.raises(AssertionError, match=r"did not hold: \['b'\]"):
        assert_holds(without_reason)
    assert not all_hold({"a": BUSY})  # nothing judged: not ok
