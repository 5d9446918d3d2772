"""One handler, four execution models, the same load: requests/s, p99, cores used, memory.

The endpoints (services/execution/app.py) wait 20 ms (I/O-bound) or compute
for about 10 ms in Python (CPU-bound). wrk runs in a container of its own on
the `back` network, straight to each model's container, CONNECTIONS at a
time for SECONDS. Cores used are the container's cgroup CPU time over the
wall time; memory is what the kernel charges the container.

On 2 cores: CPU-bound work in threads of one process stays near one core,
because one thread at a time holds Python's GIL; 2 processes (forked
workers sharing a socket, or SO_REUSEPORT) use both. For I/O-bound work one
event loop keeps up with a pool of threads, with one thread and less memory.
"""

from __future__ import annotations

from typing import Any

from comms_sandbox import cgroups, docker, wrk

MODELS = ("async", "threads", "processes", "reuseport")
WORK = {"io": "/io?ms=20", "cpu": "/cpu?rounds=100000"}
SECONDS = 2
CONNECTIONS = 16
PORT = 8000  # services/execution/serve.py
# Processes over threads on CPU-bound work, at least. 2 cores would allow 2x;
# what the processes get is what the rest of the machine leaves them: 1.7 to
# 2.0x on a quiet one, 1.3 to 1.4x with the whole stack's healthchecks, wrk
# and Docker busy beside them (the page says more).
CPU_FACTOR = 1.2
# A new connection per request. A kept-alive connection stays with the process
# that accepted it, and an asyncio server accepts many per wake-up: with a
# few long connections one worker can end up with most of them, and the
# second core idles. Per-request connections spread the work as accept() does.
HEADERS = ("Connection: close",)
ROUNDS = 1  # CPU-bound runs per model; with more, the best counts (noise only slows a run)


def measure(model: str, path: str) -> dict[str, Any]:
    container = docker.containers(f"exec-{model}")[0].name
    cpu_before = cgroups.cpu_seconds(container)
    load = wrk.wrk(f"http://exec-{model}:{PORT}{path}", seconds=SECONDS, connections=CONNECTIONS,
                   threads=1, cpus="0,1", headers=HEADERS)  # fmt: skip
    # Over wrk's own duration: the model is idle while wrk's container starts and stops.
    cores = (cgroups.cpu_seconds(container) - cpu_before) / SECONDS
    return {
        "per_s": load.requests_per_s,
        "p99_ms": round(load.p99_ms, 1),
        "errors": load.errors,
        "cores": round(cores, 2),
        "memory_mib": cgroups.memory_mib(container),
    }


def best(model: str, path: str, rounds: int) -> dict[str, Any]:
    return max((measure(model, path) for _ in range(rounds)), key=lambda r: r["per_s"])


def run() -> dict[str, Any]:
    wrk.build_image()
    results = {kind: {model: best(model, path, ROUNDS if kind == "cpu" else 1) for model in MODELS}
               for kind, path in WORK.items()}  # fmt: skip
    return {"seconds": SECONDS, "connections": CONNECTIONS, "work": results,
            "holds": holds(results)}  # fmt: skip


def holds(work: dict[str, dict[str, dict[str, Any]]]) -> dict[str, bool]:
    cpu, io = work["cpu"], work["io"]
    return {
        f"CPU-bound: 2 processes serve at least {CPU_FACTOR}x what threads in one process do": (
            min(cpu["processes"]["per_s"], cpu["reuseport"]["per_s"])
            >= CPU_FACTOR * cpu["threads"]["per_s"]
        ),
        # The GIL's ceiling. The processes' cores are reported, not judged: they
        # get what wrk, Docker and the rest of the stack leave of the 2 cores.
        "CPU-bound: threads in one process keep at most one core busy": (
            cpu["threads"]["cores"] <= 1.05
        ),
        "I/O-bound: one event loop keeps up with the thread pool": (
            io["async"]["per_s"] >= 0.8 * io["threads"]["per_s"]
        ),
        "no errors": all(r["errors"] == 0 for kind in work.values() for r in kind.values()),
    }
