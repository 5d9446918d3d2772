"""The structured result every scenario returns, and the statistics they share."""

import json
import os
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ScenarioResult:
    scenario: str
    ok: bool  # did the property the scenario demonstrates hold?
    metrics: dict[str, Any]
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# Set by the integration tests for their session (tests/integration/conftest.py):
# a folder where each lesson's run() result is kept, so the page's `python -m
# scenarios run NAME` and the lesson's integration tests share one real run
# instead of running it twice. Unset (always, for a learner), every call runs.
SHARED_RESULTS = "SANDBOX_SHARED_RESULTS"


def run_once(name: str, run: Callable[[], ScenarioResult]) -> ScenarioResult:
    """run(), or, in a test session, the result of this session's earlier run of `name`.

    Always as JSON reads it back, so a reused result and a fresh one look the same.
    """
    folder = os.environ.get(SHARED_RESULTS)
    saved = Path(folder) / f"{name}.json" if folder else None
    if saved is not None and saved.exists():
        return ScenarioResult(**json.loads(saved.read_text()))
    data = json.loads(json.dumps(run().to_json()))
    if saved is not None:
        saved.write_text(json.dumps(data))
    return ScenarioResult(**data)


def from_parts(
    scenario: str,
    results: dict[str, Any],
    parts: Iterable[str],
    more: dict[str, bool] | None = None,
) -> ScenarioResult:
    """A lesson made of parts, each result with a "holds" dict: ok when every check holds.

    The checks are named "<part>: <check>"; `more` adds checks of the whole run.
    A part with no checks is an error too: it would pass whatever it measured.
    """
    if unjudged := [part for part in parts if not results[part]["holds"]]:
        raise ValueError(f"parts with no checks: {', '.join(unjudged)}")
    checks = {f"{part}: {check}": holds
              for part in parts for check, holds in results[part]["holds"].items()}  # fmt: skip
    checks.update(more or {})
    return ScenarioResult(scenario, all_hold(checks), {**results, "checks": checks})


def all_hold(checks: Mapping[str, bool]) -> bool:
    """Whether every named check holds; no checks at all is an error, never a pass.

    `all()` of nothing is True: a scenario (or a part) that measured no property
    would claim ok. The checks come from code, so an empty set is a bug to show.
    """
    if not checks:
        raise ValueError("no checks to judge: a verdict needs at least one measured property")
    return all(checks.values())


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
