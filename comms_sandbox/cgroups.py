"""CPU time a container has used, as its cgroup counts it (v2 cpu.stat, or v1 cpuacct).

Read before and after a load: the difference over the wall time is how many
cores the container kept busy, whatever its processes and threads.
"""

from __future__ import annotations

from comms_sandbox import docker

V2_STAT = "/sys/fs/cgroup/cpu.stat"  # "usage_usec N" among others
V1_USAGE = "/sys/fs/cgroup/cpuacct/cpuacct.usage"  # nanoseconds


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
