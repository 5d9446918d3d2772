"""Judging a set of checks: no checks is an error, a failing check is named."""

from __future__ import annotations

from typing import Any

import pytest

from scenarios.result import ScenarioResult, all_hold, from_parts
from tests.helpers import assert_holds, failing_checks


def test_all_hold_is_true_only_when_every_check_holds() -> None:
    assert all_hold({"a": True, "b": True})
    assert not all_hold({"a": True, "b": False})


def test_all_hold_refuses_an_empty_set() -> None:
    with pytest.raises(ValueError, match="no checks"):
        all_hold({})


def parts(**holds: dict[str, bool]) -> dict[str, Any]:
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
