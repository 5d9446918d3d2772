"""How much of the machine a benchmark really had: what else ran, how busy the cores
were, and CPU time stolen by the hypervisor."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def busy_cores(seconds: float = 1.0) -> float:
    """Cores in use (not idle, not waiting on I/O) over `seconds`, from /proc/stat."""
    before = cpu_times()
    time.sleep(seconds)
    after = cpu_times()
    if len(before) < 5 or len(after) < 5:
        return 0.0
    deltas = [a - b for a, b in zip(after, before, strict=True)]
    total = sum(deltas[:8]) or 1
    idle = deltas[3] + deltas[4]
    return round((os.cpu_count() or 1) * (total - idle) / total, 2)


def running_containers() -> list[str]:
    """Every running container on the engine, ours or not: what shares the machine."""
    listed = subprocess.run(["docker", "ps", "--format", "{{.Names}}"], capture_output=True,
                            text=True, check=False).stdout.split()  # fmt: skip
    return sorted(listed)


def context() -> dict[str, Any]:
    """What a benchmark's figures were measured beside: containers, load, busy cores."""
    running = running_containers()
    return {
        "containers_running": len(running),
        "containers": running,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "busy_cores_before": busy_cores(),
        "cores": os.cpu_count(),
    }
