"""Start-up and idle memory, per lesson and for the whole stack (images already built).

For each lesson, then for the whole stack: `down`, then `up --wait` of the
lesson's services (Compose adds their dependencies), timing when each
container first turned healthy; then, after a settle, each container's
memory at rest. The whole stack runs last, so `make bench` leaves it up.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.table import Table

from bench.support.narrate import Verdict
from bench.support.report import right_aligned
from comms_sandbox import docker
from comms_sandbox.compose import compose, compose_ps, profile_flags, with_dependencies
from comms_sandbox.images import ensure_images
from scenarios import lessons, narration

NAME = "startup"  # python -m bench startup
LESSON = None  # every lesson, and the whole stack
WHOLE_STACK = "whole stack"
TARGET_HEALTHY_S = {WHOLE_STACK: 20.0, "load-balancing": 8.0}
TARGET_IDLE_MEMORY_MIB = {WHOLE_STACK: 1.2 * 1024}
SETTLE_S = 10  # let JVM and Erlang finish their start-up work before measuring rest
POLL_S = 0.5
EXPECTED_UP_S = 30.0  # a lesson's `up --wait` without a target of its own, seen on 2 cores


def health_by_container() -> dict[str, str]:
    return {c["Name"]: c.get("Health") or c.get("State", "") for c in compose_ps("--all")}


def timed_up(services: tuple[str, ...]) -> tuple[float, dict[str, float]]:
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
    result = compose("up", "--detach", "--wait", "--wait-timeout=240", *services, capture=True)
    total = time.monotonic() - started
    done.set()
    poller.join()
    record()  # whatever turned healthy after the poller's last look
    if result.returncode != 0:
        raise RuntimeError(f"`docker compose up` failed:\n{result.stderr}")
    return total, healthy_at


def idle_memory_mib() -> dict[str, float]:
    return docker.memory_mib(compose("ps", "--quiet", capture=True).stdout.split())


def measure(name: str, services: tuple[str, ...]) -> dict[str, Any]:
    """From nothing running to `services` healthy, then their memory at rest."""
    narration.step("down: nothing running")
    # Every profile's services too: a lesson left running would be counted.
    compose(*profile_flags(), "down", "--remove-orphans", capture=True)  # volumes kept
    with narration.waiting(f"{name}: up and healthy", TARGET_HEALTHY_S.get(name, EXPECTED_UP_S)):
        total_s, healthy_at = timed_up(services)
    narration.seen(f"{name}: {len(healthy_at)} containers healthy after {total_s:.1f} s")
    with narration.waiting("the containers to settle before measuring memory", SETTLE_S):
        time.sleep(SETTLE_S)
    memory = idle_memory_mib()
    narration.seen(f"{name}: {sum(memory.values()):.0f} MiB idle in {len(memory)} containers")
    return {
        "services": list(services) or "all",
        "up_to_all_healthy_s": round(total_s, 2),
        "healthy_at_s": dict(sorted(healthy_at.items(), key=lambda kv: kv[1])),
        "idle_memory_mib": memory,
        "idle_memory_total_mib": round(sum(memory.values()), 1),
        "containers": len(memory),
    }


def with_targets(name: str, measured: dict[str, Any]) -> dict[str, Any]:
    """Add the targets this set has, and measured / target for each (below 1 meets it)."""
    if name in TARGET_HEALTHY_S:
        measured["target_healthy_s"] = TARGET_HEALTHY_S[name]
        measured["healthy_vs_target"] = round(
            measured["up_to_all_healthy_s"] / TARGET_HEALTHY_S[name], 2
        )
    if name in TARGET_IDLE_MEMORY_MIB:
        measured["target_idle_memory_mib"] = TARGET_IDLE_MEMORY_MIB[name]
        measured["memory_vs_target"] = round(
            measured["idle_memory_total_mib"] / TARGET_IDLE_MEMORY_MIB[name], 2
        )
    return measured


def expected_s() -> float:
    """Each lesson's and the whole stack's `up`, settle and `down`: about a minute each."""
    return (len(lessons.discover()) + 1) * (EXPECTED_UP_S + SETTLE_S + 15)


def run() -> dict[str, Any]:
    sets = {name: lesson.services for name, lesson in lessons.discover().items()}
    # Images pulled or built, and ours built, before any timing starts.
    with narration.waiting("images pulled and built"):
        ensure_images(with_dependencies(s for services in sets.values() for s in services))
        compose("build", "--quiet", capture=True)
    sets[WHOLE_STACK] = ()  # last: `make bench` goes on with the whole stack up
    measured = {}
    for number, (name, services) in enumerate(sets.items(), start=1):
        with narration.part(f"{name} ({number} of {len(sets)})"):
            measured[name] = with_targets(name, measure(name, services))
    return {"benchmark": NAME, "sets": measured}


def verdicts(result: dict[str, Any]) -> list[Verdict]:
    """Each set's targets: seconds to all healthy, idle memory (measured / target <= 1)."""
    found = []
    for name, m in result["sets"].items():
        if "healthy_vs_target" in m:
            found.append(Verdict(f"{name}: healthy within {m['target_healthy_s']:.0f} s",
                                 m["healthy_vs_target"] <= 1,
                                 f"{m['up_to_all_healthy_s']:.1f} s"))  # fmt: skip
        if "memory_vs_target" in m:
            found.append(Verdict(f"{name}: idle memory under {m['target_idle_memory_mib']:.0f} MiB",
                                 m["memory_vs_target"] <= 1,
                                 f"{m['idle_memory_total_mib']:.0f} MiB"))  # fmt: skip
    return found


def tables(result: dict[str, Any]) -> list[Table]:
    summary = right_aligned(
        "start-up and idle memory, per lesson and whole stack (images already built)",
        "started", "containers", "up -> all healthy (s)", "target (s)",
        "idle memory (MiB)", "target (MiB)",
    )  # fmt: skip
    for name, m in result["sets"].items():
        summary.add_row(
            name,
            str(m["containers"]),
            f"{m['up_to_all_healthy_s']:.1f}",
            f"{m['target_healthy_s']:.0f}" if "target_healthy_s" in m else "-",
            f"{m['idle_memory_total_mib']:.0f}",
            f"{m['target_idle_memory_mib']:.0f}" if "target_idle_memory_mib" in m else "-",
        )
    whole = result["sets"][WHOLE_STACK]
    detail = right_aligned(
        "whole stack, per container", "container", "healthy after (s)", "idle memory (MiB)"
    )
    for name, mib in sorted(whole["idle_memory_mib"].items()):
        detail.add_row(name, str(whole["healthy_at_s"].get(name, "-")), f"{mib:.1f}")
    return [summary, detail]
