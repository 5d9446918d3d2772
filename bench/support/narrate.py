"""How a benchmark tells what it does, through the scenarios' narration API (not a second one).

The runner announces each benchmark as the "lesson"; a benchmark wraps each
measurement in `measuring(set_up, round, rounds, expected_s)`: the set-up is a
part ("tracing on, every request"), the round a wait ("round 2 of 3") against the
seconds it expects, so a log gets a line at least every 5 s and a terminal a bar.
Targets a benchmark checks are `Verdict`s: told as verdicts, kept in its JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from scenarios import narration


@dataclass(frozen=True)
class Verdict:
    """A target a benchmark checked: met or not, and the figures it was decided on."""

    check: str
    met: bool
    why: str = ""

    @property
    def outcome(self) -> str:
        """As scenarios.result.outcome() names it, so the index shows both alike."""
        return "holds" if self.met else "fails"

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "outcome": self.outcome, "why": self.why}


@contextmanager
def measuring(set_up: str, round_: int, rounds: int,
              expected_s: float | None = None) -> Iterator[None]:  # fmt: skip
    """One measurement: its set-up as a part, its round as a wait against the expected."""
    with narration.part(set_up), narration.waiting(f"round {round_} of {rounds}", expected_s):
        yield


def told(verdicts: list[Verdict]) -> list[dict[str, str]]:
    """Each verdict narrated as it is decided; their JSON for the benchmark's results."""
    for verdict in verdicts:
        narration.verdict(verdict.check, verdict.outcome, verdict.why)
    return [verdict.to_json() for verdict in verdicts]
