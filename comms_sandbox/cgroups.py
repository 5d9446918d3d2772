"""CPU time and memory of a container, as its cgroup counts them (v2, or v1 on older hosts).

CPU: read before and after a load; the difference over the wall time is how
many cores the container kept busy, whatever its processes and threads.
Memory: what `docker stats` shows (usage less the inactive page cache), read
at once instead of over docker stats' two-sample second or two.
"""

from __future__ import annotations

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
