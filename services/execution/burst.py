"""A bounded burst of connections to a port of this network namespace, as JSON on stdout.

    python -m execution.burst PORT COUNT [TIMEOUT_S]

Run inside the server's container (`docker exec`), so the connections meet
the server's own accept queue, with no port forwarder in between. Every
client connects at once, sends a line and waits for the server's "hi";
meanwhile the listening socket's queue is sampled from /proc/net/tcp: for a
listener, "rx_queue" is how many connections wait to be accepted (ss's
Recv-Q; its limit, Send-Q, is the backlog the server asked for).
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from typing import Any

MAX_COUNT = 500
MAX_TIMEOUT_S = 15.0
LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp
SAMPLE_S = 0.01


def listen_queue(port: int) -> int | None:
    """How many connections wait in the accept queue of the listener on `port`."""
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if state == LISTEN and int(local.split(":")[1], 16) == port:
                return int(queues.split(":")[1], 16)
    return None


def client(port: int, timeout_s: float, started: float, into: list[dict[str, Any]]) -> None:
    outcome: dict[str, Any] = {"connect_ms": None, "answer_ms": None}
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
            outcome["connect_ms"] = round((time.monotonic() - started) * 1000, 1)
            sock.sendall(b"hello\n")
            answer = sock.recv(3)
            outcome["answer_ms"] = round((time.monotonic() - started) * 1000, 1)
            outcome["outcome"] = "answered" if answer == b"hi\n" else "closed"
    except ConnectionResetError:
        outcome["outcome"] = "reset"
    except ConnectionRefusedError:
        outcome["outcome"] = "refused"
    except TimeoutError:
        outcome["outcome"] = "timeout"
    into.append(outcome)


def burst(port: int, count: int, timeout_s: float) -> dict[str, Any]:
    count, timeout_s = min(count, MAX_COUNT), min(timeout_s, MAX_TIMEOUT_S)
    results: list[dict[str, Any]] = []
    samples: list[int] = []
    started = time.monotonic()
    clients = [threading.Thread(target=client, args=(port, timeout_s, started, results))
               for _ in range(count)]  # fmt: skip
    for thread in clients:
        thread.start()
    while any(thread.is_alive() for thread in clients):
        queue = listen_queue(port)
        if queue is not None:
            samples.append(queue)
        time.sleep(SAMPLE_S)
    return {
        "port": port,
        "clients": count,
        "max_waiting": max(samples, default=0),
        "results": results,
        "seconds": round(time.monotonic() - started, 2),
    }


def main() -> None:
    port, count = int(sys.argv[1]), int(sys.argv[2])
    timeout_s = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
    json.dump(burst(port, count, timeout_s), sys.stdout)


if __name__ == "__main__":
    main()
