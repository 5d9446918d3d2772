"""Start-up and idle memory: seconds from `up` to all-healthy (images built), memory at rest."""

import subprocess
import threading
import time
from typing import Any

from comms_sandbox.compose import compose, compose_ps

TARGET_HEALTHY_S = 30.0
TARGET_IDLE_MEMORY_MIB = 1536.0
SETTLE_S = 10  # let JVM and Erlang finish their start-up work before measuring rest
POLL_S = 0.5


def health_by_container() -> dict[str, str]:
    return {c["Name"]: c.get("Health") or c.get("State", "") for c in compose_ps("--all")}


def timed_up() -> tuple[float, dict[str, float]]:
    """Run `up --wait` and record, by polling, when each container first turned healthy."""
    healthy_at: dict[str, float] = {}
    done = threading.Event()
    started = time.monotonic()

    def record() -> None:
        for name, health in health_by_container().items():
            if health == "healthy":
                healthy_at.setdefault(name, round(time.monotonic() - started, 2))

    def poll() -> None:
        while not done.is_set():
            record()
            time.sleep(POLL_S)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    result = compose("up", "--detach", "--wait", "--wait-timeout=240", capture=True)
    total = time.monotonic() - started
    done.set()
    poller.join()
    record()  # whatever turned healthy after the poller's last look
    if result.returncode != 0:
        raise RuntimeError(f"`docker compose up` failed:\n{result.stderr}")
    return total, healthy_at


def idle_memory_mib() -> dict[str, float]:
    ids = compose("ps", "--quiet", capture=True).stdout.split()
    stats = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", *ids],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    usage = {}
    for line in stats.splitlines():
        name, mem = line.split("\t")
        usage[name] = to_mib(mem.split("/")[0].strip())
    return usage


def to_mib(text: str) -> float:
    units = {"KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "B": 1 / 1024 / 1024}
    for unit, factor in units.items():
        if text.endswith(unit):
            return round(float(text.removesuffix(unit)) * factor, 1)
    raise ValueError(f"unknown memory unit in {text!r}")


def run() -> dict[str, Any]:
    compose("build", "--quiet", capture=True)  # images built before timing starts
    compose("down", "--remove-orphans", capture=True)  # volumes kept: a warm restart
    total_s, healthy_at = timed_up()
    time.sleep(SETTLE_S)
    memory = idle_memory_mib()
    total_mib = round(sum(memory.values()), 1)
    return {
        "benchmark": "startup",
        "up_to_all_healthy_s": round(total_s, 2),
        "healthy_at_s": dict(sorted(healthy_at.items(), key=lambda kv: kv[1])),
        "target_healthy_s": TARGET_HEALTHY_S,
        "healthy_vs_target": round(total_s / TARGET_HEALTHY_S, 2),
        "idle_memory_mib": memory,
        "idle_memory_total_mib": total_mib,
        "target_idle_memory_mib": TARGET_IDLE_MEMORY_MIB,
        "memory_vs_target": round(total_mib / TARGET_IDLE_MEMORY_MIB, 2),
    }
