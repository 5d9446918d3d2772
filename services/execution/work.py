"""The work the handlers do, written once: waiting (I/O-bound) and computing (CPU-bound)."""

from __future__ import annotations

import time

MAX_WAIT_MS = 2000
MAX_ROUNDS = 2_000_000


def compute(rounds: int) -> int:
    """Pure Python arithmetic: holds the GIL the whole time, like parsing or templating."""
    total = 0
    for i in range(rounds):
        total = (total + i * i) % 1_000_003
    return total


def wait_blocking(ms: int) -> None:
    """A blocking call (a sync database driver, requests.get): the thread sleeps, GIL released."""
    time.sleep(ms / 1000)
