"""What every verdict test does: break one measured property of a clean run at a time
and see exactly that check fail; and no check without a case that makes it fail."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

Metrics = dict[str, Any]
Breakage = Callable[[Metrics], None]
Checks = Callable[[Metrics], dict[str, bool]]


def failing(checks: Checks, metrics: Metrics) -> list[str]:
    """The checks that did not hold for `metrics`."""
    return [check for check, holds in checks(metrics).items() if not holds]


def assert_breaking_fails_only(checks: Checks, clean: Metrics, breakage: Breakage,
                               check: str) -> None:  # fmt: skip
    """Broken by `breakage`, a copy of the clean run fails `check` and nothing else."""
    metrics = copy.deepcopy(clean)
    breakage(metrics)
    assert failing(checks, metrics) == [check]


def assert_every_check_can_fail(checks: Checks, clean: Metrics,
                                broken: dict[str, tuple[Breakage, str]]) -> None:  # fmt: skip
    """The clean run holds, and each of its checks is the one some breakage fails."""
    assert failing(checks, clean) == []
    assert {check for _, check in broken.values()} == set(checks(clean))


def verdict_tests(
    checks: Checks, clean_run: Callable[[], Metrics], broken: dict[str, tuple[Breakage, str]]
) -> tuple[Callable[..., None], Callable[[], None]]:
    """The two tests of a set of checks, for a test module to bind to test_* names:
    each breakage fails its own check and no other; every check has a breakage."""

    @pytest.mark.parametrize("case", broken)
    def each_breakage_fails_its_own_check(case: str) -> None:
        assert_breaking_fails_only(checks, clean_run(), *broken[case])

    def every_check_has_a_failing_case() -> None:
        assert_every_check_can_fail(checks, clean_run(), broken)

    return each_breakage_fails_its_own_check, every_check_has_a_failing_case
