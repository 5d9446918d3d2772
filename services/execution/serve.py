"""Serve execution.app under the model named by EXECUTION_MODEL:

- async: one process, one event loop;
- threads: one process, sync handlers in a thread pool;
- processes: WORKERS processes forked by uvicorn, sharing one listening socket
  (each accept()s from the same queue);
- reuseport: WORKERS independent processes, each with its own socket bound
  to the same port with SO_REUSEPORT: the kernel spreads new connections.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import socket

import uvicorn

MODEL = os.environ.get("EXECUTION_MODEL", "async")
WORKERS = int(os.environ.get("WORKERS", "2"))
PORT = 8000
COMMON = {"host": "0.0.0.0", "port": PORT, "access_log": False, "backlog": 1024}


def reuseport_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("0.0.0.0", PORT))
    return sock


def serve_one_reuseport() -> None:
    server = uvicorn.Server(uvicorn.Config("execution.app:app", **COMMON))
    server.run(sockets=[reuseport_socket()])


def main() -> None:
    if MODEL == "processes":
        uvicorn.run("execution.app:app", workers=WORKERS, **COMMON)
    elif MODEL == "reuseport":
        children = [multiprocessing.Process(target=serve_one_reuseport) for _ in range(WORKERS)]
        for child in children:
            child.start()
        # One child dying ends the container, and Docker restarts it whole.
        multiprocessing.connection.wait([child.sentinel for child in children])
        raise SystemExit("a reuseport worker exited")
    elif MODEL in ("async", "threads"):
        uvicorn.run("execution.app:app", **COMMON)
    else:
        raise SystemExit(f"EXECUTION_MODEL must be async, threads, processes or reuseport: {MODEL}")
