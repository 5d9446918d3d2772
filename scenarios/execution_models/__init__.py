"""Execution models and the kernel: the accept queue, processes, threads, an event loop, pooling.

What happens before and while a backend runs a request, measured on the
real stack (services/execution/, behind the Compose profile
`execution-models`):

- accept queue: bursts against a listener with a backlog of 4 that accepts
  slowly, and one with 1024 that accepts at once; the queue's length from
  /proc/net/tcp, the kernel's ListenOverflows and ListenDrops, and what the
  clients saw (waits for SYN retransmissions, or resets with
  tcp_abort_on_overflow=1);
- execution models: the same I/O-bound and CPU-bound handlers served by one
  event loop, a thread pool, 2 forked worker processes and 2 SO_REUSEPORT
  processes: requests/s, p99, cores used (cgroup CPU time), memory;
- blocking: time.sleep inside an async handler against the same call in a
  thread, seen in the p99 of a fast request on the same loop;
- pooling: connections opened for the same requests, client to nginx and
  nginx to the upstream, with and without keep-alive.
Scaling out with CPU-budgeted replicas is `python -m bench execution-models`.
"""

from __future__ import annotations

from comms_sandbox import config
from comms_sandbox.health import require_lesson_service, require_proxy, url_answers
from scenarios.execution_models import accept_queue, blocking, models, pooling
from scenarios.execution_models.render import render
from scenarios.result import ScenarioResult, from_parts, run_parts

NAME = "execution-models"
ORDER = 15  # place in the syllabus: after request-response, before load balancing
# What `make up LESSON=execution-models` starts: the four models, the accept
# queue servers, and the CPU-budgeted replica behind nginx.
SERVICES = ("proxy", "exec-async", "exec-threads", "exec-processes", "exec-reuseport",
            "acceptq", "acceptq-reset", "exec-budget")  # fmt: skip
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "comms_sandbox/kernel_counters.py",
    "comms_sandbox/cgroups.py",
    "comms_sandbox/spare_cpu.py",
    "comms_sandbox/wrk.py",
)
PARTS = {
    "accept_queue": accept_queue.run,
    "models": models.run,
    "blocking": blocking.run,
    "pooling": pooling.run,
}

__all__ = ["NAME", "ORDER", "SERVICES", "render", "run", "where"]


def where() -> list[tuple[str, str]]:
    return [
        ("the four models", f"{config.proxy_url()}/exec/{{async,threads,processes,reuseport}}/"),
        ("their OpenAPI docs", f"{config.proxy_url()}/exec/async/docs"),
        ("CPU-budgeted replicas", f"{config.proxy_url()}/budget/whoami"),
    ]


def run() -> ScenarioResult:
    require_proxy()
    require_lesson_service(
        "exec-async", lambda: url_answers(f"{config.proxy_url()}/exec/async/fast"), NAME
    )
    return from_parts(NAME, run_parts(PARTS), PARTS)  # each part narrated as it runs
