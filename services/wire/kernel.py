"""This network namespace's own counters, as the kernel keeps them (/proc/net/snmp and
/proc/net/netstat: pairs of lines, a header of names and a line of values per group)."""

from __future__ import annotations


def counter(path: str, group: str, name: str) -> int:
    """One counter, e.g. counter("/proc/net/netstat", "TcpExt", "DelayedACKs")."""
    with open(path) as table:
        lines = table.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names.startswith(group + ":"):
            return int(dict(zip(names.split()[1:], values.split()[1:], strict=True))[name])
    raise KeyError(f"{group} {name} in {path}")
