"""The kernel's own network counters (what `nstat` and `netstat -s` read), per network namespace.

/proc/net/snmp and /proc/net/netstat hold pairs of lines: a header line of
names and a line of values, each starting with its group ("Udp:", "TcpExt:").
A container's copy counts only its own network namespace, so a drop counted
there happened at that container's sockets.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from comms_sandbox import docker

Counters = dict[str, int]  # "Udp.RcvbufErrors" -> 12
FILES = ("/proc/net/snmp", "/proc/net/netstat")


def parse(text: str) -> Counters:
    """Every counter in a /proc/net/snmp-style text, as "Group.Name" -> value."""
    counters: Counters = {}
    rows = [line.split() for line in text.splitlines() if line.strip()]
    for names, values in pairwise(rows):
        if names[0] != values[0] or not all(v.lstrip("-").isdigit() for v in values[1:]):
            continue  # not a header and its values
        group = names[0].rstrip(":")
        counters.update(
            {f"{group}.{n}": int(v) for n, v in zip(names[1:], values[1:], strict=True)}
        )
    return counters


def in_container(container: str) -> Counters:
    """The counters of a running container's network namespace."""
    return {k: v for path in FILES for k, v in parse(docker.read_file(container, path)).items()}


def on_host() -> Counters:
    """The counters of this process's own network namespace (the host's, for scenarios)."""
    return {k: v for path in FILES for k, v in parse(Path(path).read_text()).items()}


def delta(before: Counters, after: Counters, names: tuple[str, ...]) -> Counters:
    return {name: after.get(name, 0) - before.get(name, 0) for name in names}
