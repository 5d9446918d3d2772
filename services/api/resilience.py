"""How the api calls a dependency that may be slow or failing: retries and a circuit breaker.

- Retries only for errors a new attempt can fix (UNAVAILABLE: the connection
  or the replica went away), never after the deadline has passed (a
  DEADLINE_EXCEEDED means the time is spent), with exponential backoff and
  full jitter (so clients do not retry in lockstep), and within a budget:
  retries may add at most 10% to the calls made, so a failing dependency is
  never sent several times its normal load.
- A circuit breaker: after 5 failures in a row it opens and calls fail at
  once (503, no call made); after 2 s it lets one probe through
  (half-open); a success closes it, a failure opens it again. Every change
  of state is logged.
- The "naive" policy, for comparison: up to 4 immediate attempts on any error.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("api.resilience")

NAIVE_ATTEMPTS = 4
MAX_ATTEMPTS = 3
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 0.5


def backoff_s(retry: int, rng: random.Random | None = None) -> float:
    """Full jitter: a uniform wait in [0, min(cap, base * 2**retry)]."""
    return (rng or random).uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**retry))


@dataclass
class RetryBudget:
    """Retries may add at most `ratio` to the calls: each call earns `ratio` of a token."""

    ratio: float = 0.1
    cap: float = 10.0
    tokens: float = 10.0

    def earn(self) -> None:
        self.tokens = min(self.cap, self.tokens + self.ratio)

    def spend(self) -> bool:
        if self.tokens < 1 - 1e-9:  # ten earnings of 0.1 make a token, float rounding or not
            return False
        self.tokens -= 1
        return True


@dataclass
class CircuitBreaker:
    name: str
    failure_threshold: int = 5
    open_for_s: float = 2.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    state: str = "closed"
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False

    def allow(self) -> bool:
        """May a call go out now? In half-open state, only one probe at a time."""
        if self.state == "open" and self.clock() - self.opened_at >= self.open_for_s:
            self._move("half-open")
        if self.state == "half-open":
            if self.probing:
                return False
            self.probing = True
            return True
        return self.state == "closed"

    def succeeded(self) -> None:
        self.failures, self.probing = 0, False
        if self.state != "closed":
            self._move("closed")

    def failed(self) -> None:
        self.failures += 1
        self.probing = False
        if self.state == "half-open" or self.failures >= self.failure_threshold:
            self.opened_at = self.clock()
            if self.state != "open":
                self._move("open")

    def _move(self, state: str) -> None:
        log.warning(
            "circuit breaker state",
            extra={"fields": {"breaker": self.name, "from": self.state, "to": state,
                              "failures": self.failures}},
        )  # fmt: skip
        self.state = state
