"""CPU time and memory of a container, as its cgroup counts them (v2, or v1 on older hosts).

CPU: read before and after a load; the difference over the wall time is how
many cores the container kept busy, whatever its processes and threads.
Memory: what `docker stats` shows (usage less the inactive page cache), read
at once instead of over docker stats' two-sample second or two.
The machine's CPU beside it (cpu_sample): what everything else kept busy
meanwhile, so that a run squeezed by other work can say so instead of
failing a comparison that needs spare cores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from comms_sandbox import docker

V2_STAT = "/sys/fs/cgroup/cpu.stat"  # "usage_usec N" among others
V1_USAGE = "/sys/fs/cgroup/cpuacct/cpuacct.usage"  # nanoseconds
V2_MEMORY = ("/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.stat", "inactive_file")
V1_MEMORY = ("/sys/fs/cgroup/memory/memory.usage_in_bytes", "/sys/fs/cgroup/memory/memory.stat",
             "total_inactive_file")  # fmt: skip


def cpu_seconds(container: str) -> float:
    try:
        stat = docker.read_file(container, V2_STAT)
    except docker.DockerError:
        return int(docker.read_file(container, V1_USAGE)) / 1e9
    return parse_v2(stat)


def parse_v2(stat: str) -> float:
    for line in stat.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) / 1e6
    raise ValueError("no usage_usec in cpu.stat")


@dataclass(frozen=True)
class CpuSample:
    """The container's CPU time and the machine's CPU counters, read at one instant."""

    uptime_s: float  # the machine's clock (/proc/uptime)
    container_s: float  # CPU time the container's cgroup has used
    cpus: int  # the machine's CPUs (cpuN lines of /proc/stat)
    ticks: int  # /proc/stat's "cpu" line: every state, all CPUs together
    idle_ticks: int  # of which idle or waiting for I/O


def cpu_sample(container: str) -> CpuSample:
    """The container's cgroup CPU time with the machine's /proc/stat and clock, in one exec.

    /proc/stat and /proc/uptime are not namespaced: read in any container
    they are the machine's (Docker Desktop's VM's), which the host running
    the scenario may not have.
    """
    machine = ("cat", "/proc/uptime", "/proc/stat")
    try:
        text = docker.run_in(container, *machine, V2_STAT)
        used = parse_v2(text)
    except docker.DockerError:
        text = docker.run_in(container, *machine, V1_USAGE)
        used = int(text.splitlines()[-1]) / 1e9  # cpuacct.usage: one number, nanoseconds
    return CpuSample(float(text.split()[0]), used, *parse_proc_stat(text))


def parse_proc_stat(text: str) -> tuple[int, int, int]:
    """(CPUs, ticks, idle ticks) from /proc/stat: user nice system idle iowait irq softirq steal.

    Guest time is already inside user and nice, so the first 8 fields are all of it.
    """
    total = next((line.split()[1:9] for line in text.splitlines() if line.startswith("cpu ")), None)
    if total is None:
        raise ValueError("no cpu line in /proc/stat")
    ticks = [int(field) for field in total]
    cpus = len(re.findall(r"^cpu\d+ ", text, flags=re.MULTILINE))
    return cpus, sum(ticks), ticks[3] + ticks[4]


def others_cores(before: CpuSample, after: CpuSample) -> float:
    """Cores everything but the container kept busy between two samples, on average."""
    ticks = max(after.ticks - before.ticks, 1)
    busy = (ticks - (after.idle_ticks - before.idle_ticks)) / ticks * after.cpus
    wall = max(after.uptime_s - before.uptime_s, 0.01)
    return round(busy - (after.container_s - before.container_s) / wall, 2)


def memory_mib(container: str) -> float:
    """Memory in use now, less the inactive page cache (as `docker stats` counts it)."""
    try:
        usage_file, stat_file, inactive_key = V2_MEMORY
        usage = int(docker.read_file(container, usage_file))
    except docker.DockerError:
        usage_file, stat_file, inactive_key = V1_MEMORY
        usage = int(docker.read_file(container, usage_file))
    stat = dict(line.split(" ", 1) for line in docker.read_file(container, stat_file).splitlines())
    inactive = int(stat.get(inactive_key, 0))
    return round((usage - inactive if inactive < usage else usage) / 2**20, 1)
