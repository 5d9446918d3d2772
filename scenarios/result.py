"""The structured result every scenario returns, and the statistics they share.

A check holds (True), fails (False), or was not shown (a NotShown: the run
could not judge it, for example on a machine too busy to give two processes
two cores). A run is ok when no check failed and at least one held; the
checks not shown are printed and recorded with their reasons, never counted
as held.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from scenarios import narration


class NotShown(str):
    """A check the run could not judge, and why: it neither holds nor fails.

    A property that needs spare CPU (2 processes beating threads) cannot be
    seen on a machine whose cores other work holds; such a check says so
    instead of failing, or passing unseen. It is a str so that JSON keeps
    it: read back, any check whose value is a str is one not shown, the str
    its reason. Taken as a bool it raises, so no `all(checks)` counts it as
    held; read checks with outcome().
    """

    def __new__(cls, reason: str) -> NotShown:
        if not reason.strip():
            raise ValueError("a check not shown needs its reason")
        return super().__new__(cls, reason)

    def __bool__(self) -> bool:
        raise TypeError(f"not shown ({self}) is neither true nor false: use outcome()")


Check = bool | str  # True: holds, False: fails, a str (a NotShown): not shown, and why
Outcome = Literal["holds", "fails", "not shown"]


def unless(not_shown: NotShown | None, holds: bool) -> Check:
    """`holds`, unless the run could not judge the check (then why not)."""
    return holds if not_shown is None else not_shown


def outcome(check: Check) -> Outcome:
    """What a check says. A str without a reason is not accepted as not shown: it fails."""
    if isinstance(check, str):
        return "not shown" if check.strip() else "fails"
    return "holds" if check else "fails"


@dataclass
class ScenarioResult:
    scenario: str
    ok: bool  # no check failed and at least one held (checks not shown do neither)
    metrics: dict[str, Any]
    evidence: list[dict[str, Any]] = field(default_factory=list)
    # Check -> why it was not shown: derived from metrics["checks"], where every
    # scenario names its checks, so that no scenario has to list them twice.
    not_shown: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.not_shown = reasons_not_shown(self.metrics.get("checks") or {})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# Set by the integration tests for their session (tests/integration/conftest.py):
# a folder where each lesson's run() result is kept, so the page's `python -m
# scenarios run NAME` and the lesson's integration tests share one real run
# instead of running it twice. Unset (always, for a learner), every call runs.
SHARED_RESULTS = "SANDBOX_SHARED_RESULTS"


def run_once(name: str, run: Callable[[], ScenarioResult], about: str = "") -> ScenarioResult:
    """run(), or, in a test session, the result of this session's earlier run of `name`.

    Always as JSON reads it back, so a reused result and a fresh one look the same.
    Narrated (scenarios/narration.py): the lesson announced with `about`, then
    every verdict a part or from_parts has not told yet, and the run's ok.
    """
    saved = shared_result(name, ".json")
    with narration.lesson(name, about):
        if saved is not None and saved.exists():
            narration.step(f"reusing this test session's run of {name}")
            result = ScenarioResult(**json.loads(saved.read_text()))
        else:
            started = time.time()
            data = json.loads(json.dumps(run().to_json()))
            if saved is not None:
                saved.write_text(json.dumps(data))
                times = {"started": started, "finished": time.time()}
                saved.with_suffix(".times.json").write_text(json.dumps(times))
            result = ScenarioResult(**data)
        narrate_checks(result.metrics.get("checks") or {})
        narration.seen(f"{name}: ok {result.ok}")
    return result


def shared_result(name: str, suffix: str) -> Path | None:
    """Where a test session keeps `name`'s run (SHARED_RESULTS); None outside one."""
    folder = os.environ.get(SHARED_RESULTS)
    return Path(folder) / f"{name}{suffix}" if folder else None


def shared_run_times(name: str) -> tuple[float, float] | None:
    """When this test session's run of `name` started and finished (epoch seconds), if it
    ran: a page's `scenarios run` that reuses it reports the run's times, not its own."""
    times = shared_result(name, ".times.json")
    if times is None or not times.exists():
        return None
    data = json.loads(times.read_text())
    return data["started"], data["finished"]


def run_part(name: str, part: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One part of a lesson, narrated: announced as it starts, its checks told as it ends.

    The checks are told by the names from_parts gives them ("<part>: <check>").
    """
    with narration.part(name):
        measured = part()
    narrate_checks({f"{name}: {check}": holds
                    for check, holds in (measured.get("holds") or {}).items()})  # fmt: skip
    return measured


def run_parts(parts: Mapping[str, Callable[[], dict[str, Any]]]) -> dict[str, Any]:
    """Every part in order, each narrated (run_part): what a lesson's run() hands from_parts."""
    return {name: run_part(name, part) for name, part in parts.items()}


def narrate_checks(checks: Mapping[str, Check]) -> None:
    """Each check's verdict (holds, fails, not shown and why), told as it is decided."""
    for check, holds in checks.items():
        told = outcome(holds)
        narration.verdict(check, told, str(holds) if told == "not shown" else "")


def from_parts(
    scenario: str,
    results: dict[str, Any],
    parts: Iterable[str],
    more: dict[str, Check] | None = None,
) -> ScenarioResult:
    """A lesson made of parts, each result with a "holds" dict: ok as all_hold() judges.

    The checks are named "<part>: <check>"; `more` adds checks of the whole run.
    A part with no checks is an error too: it would pass whatever it measured.
    """
    if unjudged := [part for part in parts if not results[part]["holds"]]:
        raise ValueError(f"parts with no checks: {', '.join(unjudged)}")
    checks = {f"{part}: {check}": holds
              for part in parts for check, holds in results[part]["holds"].items()}  # fmt: skip
    checks.update(more or {})
    narrate_checks(checks)  # those no part told as it ended
    return ScenarioResult(scenario, all_hold(checks), {**results, "checks": checks})


def all_hold(checks: Mapping[str, Check]) -> bool:
    """No named check failed and at least one held; no checks at all is an error, never a pass.

    `all()` of nothing is True: a scenario (or a part) that measured no property
    would claim ok. The checks come from code, so an empty set is a bug to show.
    Checks not shown neither pass nor fail a run: one whose every check went
    unseen showed nothing, and is not ok.
    """
    if not checks:
        raise ValueError("no checks to judge: a verdict needs at least one measured property")
    outcomes = {outcome(check) for check in checks.values()}
    return "fails" not in outcomes and "holds" in outcomes


def reasons_not_shown(checks: Mapping[str, Check]) -> dict[str, str]:
    """The checks not shown, each with why."""
    return {name: str(check) for name, check in checks.items() if outcome(check) == "not shown"}


def percentiles_ms(samples_s: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of latencies given in seconds, in milliseconds."""
    if not samples_s:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    if len(samples_s) == 1:
        cuts = [samples_s[0]] * 99
    else:
        cuts = statistics.quantiles(samples_s, n=100, method="inclusive")
    return {
        "p50": round(cuts[49] * 1000, 2),
        "p95": round(cuts[94] * 1000, 2),
        "p99": round(cuts[98] * 1000, 2),
        "max": round(max(samples_s) * 1000, 2),
    }
