"""The accept queue: what the kernel does with connections the process has not accepted yet.

The kernel completes TCP handshakes by itself and queues the connections
until the process calls accept(); listen(backlog) bounds that queue. Three
bursts of BURST connections, each from inside the server's own network
namespace (docker exec), so nothing else queues them on the way:

- a backlog of 4 and one accept() every 100 ms, tcp_abort_on_overflow=0:
  the queue fills, the kernel drops what does not fit (TcpExt
  ListenOverflows, ListenDrops), and clients wait for their SYN or their
  first data to be retransmitted, 1 s later, then 3 s...;
- the same server with tcp_abort_on_overflow=1: a connection completed
  onto a full queue is answered with a reset instead, seen at once;
- a backlog of 1024 and a prompt accept(): the counters stay at 0.

The queue is sampled during the burst from /proc/net/tcp (ss -lnt's Recv-Q
against Send-Q), the counters read from the namespace before and after.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from comms_sandbox import docker, kernel_counters
from scenarios import narration

BURST = 30
TIMEOUT_S = 6
SLOW_PORT, PROMPT_PORT = 7001, 7002  # services/execution/acceptq.py
COUNTERS = ("TcpExt.ListenOverflows", "TcpExt.ListenDrops", "TcpExt.TCPSynRetrans",
            "Tcp.OutRsts")  # fmt: skip
RETRANSMITTED_MS = 900  # an answer this late waited for a retransmission (1 s at first)
# name: (service, port, the backlog it asked listen() for: compose.yaml's defaults)
TARGETS = {
    "backlog 4, slow accept, abort_on_overflow 0": ("acceptq", SLOW_PORT, 4),
    "backlog 4, slow accept, abort_on_overflow 1": ("acceptq-reset", SLOW_PORT, 4),
    "backlog 1024, prompt accept": ("acceptq", PROMPT_PORT, 1024),
}


def one_burst(service: str, port: int, backlog: int) -> dict[str, Any]:
    container = docker.containers(service)[0].name
    before = kernel_counters.in_container(container)
    with narration.waiting(f"{BURST} connections at once to {service}:{port} (backlog {backlog})",
                           expected_s=TIMEOUT_S):  # fmt: skip
        out = json.loads(docker.run_in(container, "python", "-m", "execution.burst", str(port),
                                       str(BURST), str(TIMEOUT_S)))  # fmt: skip
    after = kernel_counters.in_container(container)
    results = out["results"]
    outcomes = Counter(r["outcome"] for r in results)
    narration.seen(f"backlog {backlog}: at most {out['max_waiting']} waiting to be accepted; "
                   + ", ".join(f"{n} {outcome}" for outcome, n in outcomes.items()))  # fmt: skip
    answers = [r["answer_ms"] for r in results if r["answer_ms"] is not None]
    return {
        "backlog": backlog,
        "max_waiting": out["max_waiting"],
        "outcomes": dict(outcomes),
        "connect_ms_max": max((r["connect_ms"] or 0 for r in results), default=0),
        "answers_after_a_retransmit": sum(ms >= RETRANSMITTED_MS for ms in answers),
        "last_answer_ms": max(answers, default=0),
        "kernel": kernel_counters.delta(before, after, COUNTERS),
        "seconds": out["seconds"],
    }


def run() -> dict[str, Any]:
    bursts = {name: one_burst(*target) for name, target in TARGETS.items()}
    return {"burst": BURST, "bursts": bursts, "holds": holds(bursts)}


def holds(bursts: dict[str, dict[str, Any]]) -> dict[str, bool]:
    drop, reset, prompt = (bursts[name] for name in TARGETS)

    def overflowed(b: dict[str, Any]) -> bool:
        return b["kernel"]["TcpExt.ListenOverflows"] > 0 and b["kernel"]["TcpExt.ListenDrops"] > 0

    return {
        "the small queue filled to its limit": drop["max_waiting"] >= drop["backlog"],
        "the kernel counted overflows and drops there": overflowed(drop) and overflowed(reset),
        "with abort_on_overflow 0, clients waited for retransmissions, none was reset": (
            drop["answers_after_a_retransmit"] > 0 and "reset" not in drop["outcomes"]
        ),
        "with abort_on_overflow 1, clients were reset": reset["outcomes"].get("reset", 0) > 0,
        "the adequate queue: no overflow, no drop, everyone answered at once": (
            prompt["kernel"]["TcpExt.ListenOverflows"]
            == prompt["kernel"]["TcpExt.ListenDrops"]
            == 0
            and prompt["outcomes"] == {"answered": BURST}
            and prompt["answers_after_a_retransmit"] == 0
        ),
    }
