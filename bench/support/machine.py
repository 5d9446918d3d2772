"""How much of the machine a benchmark really had: CPU time stolen by the hypervisor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROC_STAT = Path("/proc/stat")


def cpu_times() -> list[int]:
    """The aggregate `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal..."""
    if not PROC_STAT.exists():  # not Linux: nothing to report
        return []
    fields = PROC_STAT.read_text().splitlines()[0].split()[1:]
    return [int(value) for value in fields]


@contextmanager
def steal_meter(into: dict[str, float]) -> Iterator[None]:
    """Sets into["cpu_steal_pct"]: the share of CPU time the VM did not get while the block ran.

    Above a few percent, the machine is shared and busy: absolute numbers
    mean little, and only ratios measured side by side in one run compare.
    """
    before = cpu_times()
    yield
    after = cpu_times()
    if len(before) > 7 and len(after) > 7:
        deltas = [a - b for a, b in zip(after, before, strict=True)]
        into["cpu_steal_pct"] = round(100 * deltas[7] / max(sum(deltas[:8]), 1), 1)
