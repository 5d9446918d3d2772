"""Nagle's algorithm against delayed ACKs, both ends: a request written in two small
writes, an answer written in two small writes.

    python -m wire.nagle serve                      # 9100: Nagle on, 9101: TCP_NODELAY
    python -m wire.nagle client --host H --port P [--nodelay] [--requests N]

A request is a line, then an empty line, each sent with its own send(); the answer
is "HEAD\\n", then "BODY\\n\\n", each with its own send(). With Nagle on at the
sender, its second small write waits until the first is acknowledged; the
receiver, waiting for the rest of a message before it answers, holds that ACK back
(a delayed ACK, 40 ms at least on Linux), so each message costs one ACK timer. With
TCP_NODELAY both writes leave at once and the answer carries the ACK.

The client prints one JSON line: every request's time, its own kernel's counters
before and after (TcpExt DelayedACKs, Tcp OutSegs) from /proc/net.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time

from wire.kernel import counter

NAGLE_PORT, NODELAY_PORT = 9100, 9101
MAX_MESSAGE = 1024  # a request longer than this is refused: the connection is closed
MAX_CONNECTIONS = 16
IDLE_TIMEOUT_S = 10
MAX_REQUESTS = 200
REQUEST = (b"GET /x\n", b"\n")
ANSWER = (b"HEAD\n", b"BODY\n\n")


def serve() -> None:
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    for port, nodelay in ((NAGLE_PORT, False), (NODELAY_PORT, True)):
        listener = socket.create_server(("0.0.0.0", port), backlog=64)
        threading.Thread(target=accept, args=(listener, nodelay, slots), daemon=True).start()
    threading.Event().wait()


def accept(listener: socket.socket, nodelay: bool, slots: threading.BoundedSemaphore) -> None:
    while True:
        conn, _ = listener.accept()
        if not slots.acquire(blocking=False):  # full: refused, not queued
            conn.close()
            continue
        threading.Thread(target=answer, args=(conn, nodelay, slots), daemon=True).start()


def answer(conn: socket.socket, nodelay: bool, slots: threading.BoundedSemaphore) -> None:
    """Answer every message (ending in an empty line) with two small writes."""
    try:
        conn.settimeout(IDLE_TIMEOUT_S)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(nodelay))
        pending = b""
        while data := conn.recv(MAX_MESSAGE):
            pending += data
            if len(pending) > MAX_MESSAGE:
                return
            while b"\n\n" in pending:
                _, pending = pending.split(b"\n\n", 1)
                for part in ANSWER:
                    conn.sendall(part)
    except OSError:  # a timeout or a reset ends this connection only
        return
    finally:
        conn.close()
        slots.release()


def counters() -> dict[str, int]:
    """This namespace's TcpExt DelayedACKs and Tcp OutSegs (/proc/net/netstat, snmp)."""
    return {"DelayedACKs": counter("/proc/net/netstat", "TcpExt", "DelayedACKs"),
            "OutSegs": counter("/proc/net/snmp", "Tcp", "OutSegs")}  # fmt: skip


def client(host: str, port: int, nodelay: bool, requests: int) -> dict[str, object]:
    before = counters()
    times = []
    with socket.create_connection((host, port), timeout=IDLE_TIMEOUT_S) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(nodelay))
        for _ in range(min(requests, MAX_REQUESTS)):
            started = time.perf_counter()
            for part in REQUEST:
                sock.sendall(part)
            got = b""
            while not got.endswith(b"\n\n"):
                chunk = sock.recv(MAX_MESSAGE)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                got += chunk
            times.append(round((time.perf_counter() - started) * 1000, 3))
    after = counters()
    return {"port": port, "nodelay": nodelay, "times_ms": times,
            "counters": {k: after[k] - before[k] for k in after}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("serve")
    run = sub.add_parser("client")
    run.add_argument("--host", required=True)
    run.add_argument("--port", type=int, choices=(NAGLE_PORT, NODELAY_PORT), required=True)
    run.add_argument("--nodelay", action="store_true")
    run.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    if args.mode == "serve":
        serve()
    else:
        print(json.dumps(client(args.host, args.port, args.nodelay, args.requests)))


if __name__ == "__main__":
    main()
