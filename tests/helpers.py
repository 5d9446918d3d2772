"""Utilities the tests share: reading rendered nginx configuration; a scenario's checks.
(The stack's state, which the tests restore: comms_sandbox/stack_state.py.)"""

from __future__ import annotations

import re
from typing import Any

from scenarios.result import ScenarioResult, outcome


def block(text: str, opening: str, start: int = 0) -> str:
    """The first block (from `start`) whose opening line is `opening {`, to its closing brace."""
    # Only a whole opening: `stream {` but not `location = /feed/stream {`.
    found = re.compile(rf"(?<!\S){re.escape(opening)} \{{\n").search(text, start)
    if found is None:
        raise ValueError(f"no block opening with {opening!r}")
    begin = found.start()
    depth, end = 0, begin
    for end in range(begin, len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0 and text[end] == "}":
            break
    return text[begin : end + 1]


def server_block(text: str, listen: str) -> str:
    """The server block with `listen LISTEN;` (or LISTEN and socket parameters after it)."""
    found = re.search(rf"listen {re.escape(listen)}( [^;]*)?;", text)
    if found is None:
        raise ValueError(f"no server listens on {listen}")
    at = found.start()
    return block(text, "server", start=text.rindex("server {", 0, at))


def failed(part: dict[str, Any]) -> list[str]:
    """The checks of a scenario part ({"holds": {check: bool or why not shown}}) that failed.

    A check not shown (the run could not judge it: a busy machine) is
    accepted only with its reason; outcome() fails one without.
    """
    return [check for check, holds in part["holds"].items() if outcome(holds) == "fails"]


def failing_checks(result: ScenarioResult) -> list[str]:
    """The named checks of a scenario's run (metrics["checks"]) that failed.

    A check not shown (a busy machine) is accepted only with its reason.
    """
    checks = result.metrics.get("checks", {})
    return [check for check, holds in checks.items() if outcome(holds) == "fails"]


def assert_holds(result: ScenarioResult) -> None:
    """The scenario's property held; if not, the failure names each check that did not."""
    __tracebackhide__ = True  # pytest reports the calling test's line
    checks = result.metrics.get("checks")
    assert checks, f"{result.scenario}: no named checks in metrics['checks'] to judge"
    failing = failing_checks(result)
    assert not failing, f"{result.scenario}: did not hold: {failing}"
    assert result.ok, f"{result.scenario}: not ok although no named check failed: {checks}"


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]
