"""How many of the machine's cores sit idle now: measured before a comparison that needs them.

Two processes can only beat threads held by the GIL where a second core is
free; on a machine whose cores other work holds (a shared CI runner), such
a comparison shows nothing either way. So it is preceded by this: the
idle share of /proc/stat's CPU time over SAMPLE_S, in cores.

/proc/stat is not namespaced: read in any running container it counts the
whole machine (the Docker VM, with Docker Desktop), so it is read there, twice,
in one exec whose own start and end fall outside the interval.
"""

from __future__ import annotations

from comms_sandbox import docker

SAMPLE_S = 1.0


def idle_cores(container: str, seconds: float = SAMPLE_S) -> float:
    """Cores the machine left idle, on average, over the next `seconds`."""
    text = docker.run_in(container, "sh", "-c", f"cat /proc/stat; sleep {seconds}; cat /proc/stat")
    second = text.index("\ncpu ") + 1  # where the second copy begins
    return idle_between(text[:second], text[second:])


def idle_between(before: str, after: str) -> float:
    """Idle cores between two readings of /proc/stat: its idle share of time, times its CPUs."""
    cpus, ticks_before, idle_before = parse(before)
    _, ticks_after, idle_after = parse(after)
    idle_share = (idle_after - idle_before) / max(ticks_after - ticks_before, 1)
    return round(idle_share * cpus, 2)


def parse(stat: str) -> tuple[int, int, int]:
    """(CPUs, ticks, idle ticks) from /proc/stat's lines: "cpu" for all CPUs, "cpuN" for each.

    Its fields: user nice system idle iowait irq softirq steal (then guest
    time, already counted in user and nice); waiting for I/O is idle too.
    """
    lines = [line.split() for line in stat.splitlines()]
    total = next((fields[1:9] for fields in lines if fields and fields[0] == "cpu"), None)
    if total is None:
        raise ValueError("no cpu line in /proc/stat")
    ticks = [int(field) for field in total]
    cpus = sum(
        1 for fields in lines if fields and fields[0][3:].isdigit() and fields[0][:3] == "cpu"
    )
    return cpus, sum(ticks), ticks[3] + ticks[4]
