"""The numbers a check was decided on, found in the run's metrics by the check's name.

A check is named after what it judges: "<part>: <property>" for a lesson made
of parts (scenarios.result.from_parts), sometimes "<part>: <case>" one level
deeper (load-balancing's "methods: round-robin"), or a sentence naming the
metrics it read ("a bad sku is INVALID_ARGUMENT naming the field"). The
evidence is the scalar numbers under what the name leads to, else under the
keys the sentence names, else the run's top-level numbers; each with where it
was measured when its key says so (nginx, the kernel, pg_stat_*, docker).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_ROWS = 12
# Keys the verdicts are made of, not evidence: they are shown as the verdicts.
NOT_EVIDENCE = {"checks", "holds"}
# A one-word key shorter than this ("p50", "calls") names nothing in a sentence: too common.
MIN_NAMED_WORD = 6
# A word in a key's path -> where the number was measured.
PLACES = (
    ("nginx", "nginx's log"),
    ("at_proxy", "the proxy"),
    ("kernel", "the kernel's counters"),
    ("pg_stat", "PostgreSQL's statistics"),
    ("docker", "docker"),
    ("broker", "the broker"),
    ("prometheus", "Prometheus"),
    ("zipkin", "Zipkin"),
    ("adapter", "the adapter's metrics"),
    ("ambassador", "the sidecar's log"),
    ("coturn", "coturn's log"),
)


@dataclass(frozen=True)
class Row:
    what: str  # the key's path, "draining / outcomes / OK"
    value: str
    where: str  # "" when the key does not say


@dataclass(frozen=True)
class Evidence:
    rows: list[Row]
    more: int  # rows left out (MAX_ROWS); the tables below have them


def evidence(metrics: dict[str, Any], check: str) -> Evidence:
    found = [row for path, node in subjects(metrics, check) for row in leaves(path, node)]
    return Evidence(found[:MAX_ROWS], max(len(found) - MAX_ROWS, 0))


def subjects(metrics: dict[str, Any], check: str) -> list[tuple[list[str], Any]]:
    """What the check's name points at in the metrics: (key path, value) pairs."""
    path, node = follow(metrics, check.split(": "))
    if path:
        return [(path, node)]
    named = named_in(metrics, check)
    return named or [([], {k: v for k, v in metrics.items() if is_scalar(v)})]


def follow(metrics: dict[str, Any], segments: list[str]) -> tuple[list[str], Any]:
    """The deepest key path the name's segments lead to ("methods: round-robin")."""
    path: list[str] = []
    node: Any = metrics
    for segment in segments:
        key = matching_key(node, segment)
        if key is None:
            break
        path, node = [*path, key], node[key]
    return path, node


def matching_key(node: Any, segment: str) -> str | None:
    if not isinstance(node, dict):
        return None
    wanted = words(segment)
    return next((k for k in node if k not in NOT_EVIDENCE and words(k) == wanted), None)


def named_in(metrics: dict[str, Any], check: str) -> list[tuple[list[str], Any]]:
    """Keys (two levels deep) the check's sentence names, as whole words."""
    sentence = f" {words(check)} "
    found = []
    for path, value in keys_two_deep(metrics):
        name = words(path[-1])
        specific = " " in name or len(name) >= MIN_NAMED_WORD
        if specific and f" {name} " in sentence:
            found.append((path, value))
    return found


def keys_two_deep(metrics: dict[str, Any]) -> Iterator[tuple[list[str], Any]]:
    for key, value in metrics.items():
        if key in NOT_EVIDENCE:
            continue
        yield [key], value
        if isinstance(value, dict):
            yield from (([key, k], v) for k, v in value.items() if k not in NOT_EVIDENCE)


def leaves(path: list[str], node: Any, depth: int = 2) -> Iterator[Row]:
    """The scalars (and short lists of them) under `node`, `depth` levels down."""
    if is_scalar(node) or is_short_list(node):
        yield Row(" / ".join(path), shown(node), place(path))
    elif isinstance(node, dict) and depth >= 0:
        for key, value in node.items():
            if key not in NOT_EVIDENCE:
                yield from leaves([*path, key], value, depth - 1)


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def is_short_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= 8 and all(is_scalar(v) for v in value)


def shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def place(path: list[str]) -> str:
    joined = " ".join(path).lower()
    return next((where for word, where in PLACES if word in joined), "")


def words(text: str) -> str:
    """Lower-case words only: "server_streaming" and "Server streaming" read alike."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))
