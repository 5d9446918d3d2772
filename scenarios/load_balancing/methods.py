"""Each balancing method under a bounded burst: how many requests each replica served."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from comms_sandbox import config
from proxy import load_balancing as lb
from scenarios.load import Burst, Call, burst

REQUESTS = 300
CONCURRENCY = 6
TOLERANCE = 0.10  # a share may be off its expected value by 10% of that value
SLOW_DELAY_MS = 250
SLOW_CONCURRENCY = 12
HASH_KEYS = 60
HASH_ROUNDS = 5


def path(method: str, endpoint: str) -> str:
    return f"{lb.PREFIX}{method}/{endpoint}"


def label(hostname: str, names: dict[str, str]) -> str:
    """`api-2` for the container comms-sandbox-api-2; the bare hostname if unknown."""
    return names.get(hostname, hostname).removeprefix(f"{lb.COMPOSE_PROJECT}-")


def per_replica(result: Burst, names: dict[str, str]) -> dict[str, int]:
    counts = {label(host, names): n for host, n in result.per_replica().items()}
    return dict(sorted(counts.items()))


def deviation(counts: dict[str, int], expected: dict[str, float]) -> float:
    """The largest relative gap between a replica's share and its expected share."""
    total = sum(counts.values()) or 1
    return max(abs(counts.get(k, 0) / total - share) / share for k, share in expected.items())


def summary(result: Burst, names: dict[str, str], concurrency: int) -> dict[str, Any]:
    return {
        "requests": len(result.exchanges),
        "concurrency": concurrency,
        "failed": len(result.failures()),
        "per_replica": per_replica(result, names),
        "latency_ms": result.latency_ms(),
        "duration_s": round(result.duration_s, 2),
    }


def proportional(method: str, expected: dict[str, float], names: dict[str, str]) -> dict[str, Any]:
    """Round robin and weighted: the split should match `expected` shares."""
    result = burst(config.proxy_url(), [Call(path(method, "whoami"))] * REQUESTS, CONCURRENCY)
    report = summary(result, names, CONCURRENCY)
    report["expected_share"] = expected
    report["max_deviation"] = round(deviation(report["per_replica"], expected), 3)
    report["holds"] = report["failed"] == 0 and report["max_deviation"] <= TOLERANCE
    return report


def round_robin(replicas: list[str], names: dict[str, str]) -> dict[str, Any]:
    even = {label(host, names): 1 / len(replicas) for host in replicas}
    return proportional("round-robin", even, names)


def weighted(names: dict[str, str]) -> dict[str, Any]:
    total = sum(lb.WEIGHTS)
    expected = {
        label_of_index(index): weight / total for index, weight in enumerate(lb.WEIGHTS, start=1)
    }
    report = proportional("weighted", expected, names)
    report["weights"] = {k: w for k, w in zip(expected, lb.WEIGHTS, strict=True)}
    return report


def label_of_index(index: int) -> str:
    return lb.replica_name(index).removeprefix(f"{lb.COMPOSE_PROJECT}-")


def least_conn(slow_host: str, names: dict[str, str]) -> dict[str, Any]:
    """One replica answers /delay slowly; least_conn should send it fewer requests."""
    endpoint = f"delay?ms={SLOW_DELAY_MS}&only={slow_host}"
    report = _slow_burst("least-conn", endpoint, names)
    report["contrast_round_robin"] = _slow_burst("round-robin", endpoint, names)
    slow = label(slow_host, names)
    counts = report["per_replica"]
    fast = [n for replica, n in counts.items() if replica != slow]
    report["slow_replica"] = slow
    report["delay_ms"] = SLOW_DELAY_MS
    report["holds"] = report["failed"] == 0 and bool(fast) and counts.get(slow, 0) < min(fast)
    return report


def _slow_burst(method: str, endpoint: str, names: dict[str, str]) -> dict[str, Any]:
    calls = [Call(path(method, endpoint))] * (REQUESTS // 2 * 2)
    return summary(burst(config.proxy_url(), calls, SLOW_CONCURRENCY), names, SLOW_CONCURRENCY)


def hashed(names: dict[str, str]) -> dict[str, Any]:
    """Many client keys, each sent several times (interleaved): each key must stay put."""
    keys = [f"customer-{n:03d}" for n in range(HASH_KEYS)]
    calls = [
        Call(path("hash", "whoami"), headers={"X-Client-Key": key})
        for _ in range(HASH_ROUNDS)
        for key in keys
    ]
    result = burst(config.proxy_url(), calls, CONCURRENCY)
    replicas_of_key: dict[str, set[str]] = defaultdict(set)
    for call, exchange in zip(calls, result.exchanges, strict=True):
        replicas_of_key[call.headers["X-Client-Key"]].add(label(exchange.served_by or "?", names))
    moved = sorted(key for key, seen in replicas_of_key.items() if len(seen) > 1)
    keys_per_replica: dict[str, int] = defaultdict(int)
    for seen in replicas_of_key.values():
        for replica in seen:
            keys_per_replica[replica] += 1
    report = summary(result, names, CONCURRENCY)
    report |= {
        "keys": HASH_KEYS,
        "requests_per_key": HASH_ROUNDS,
        "keys_per_replica": dict(sorted(keys_per_replica.items())),
        "keys_on_more_than_one_replica": moved,
        "holds": report["failed"] == 0 and not moved,
    }
    return report


def run(replicas: list[str], names: dict[str, str]) -> dict[str, Any]:
    """All four methods; `replicas`: hostnames that answer; `names`: their containers."""
    slow_host = min(replicas, key=lambda host: label(host, names))
    return {
        "round-robin": round_robin(replicas, names),
        "weighted": weighted(names),
        "least-conn": least_conn(slow_host, names),
        "hash": hashed(names),
    }
