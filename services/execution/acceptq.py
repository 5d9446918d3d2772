"""Two listeners for the accept-queue lesson: `python -m execution.acceptq`.

- SLOW_PORT: listen(SLOW_BACKLOG) with a tiny backlog, and accept() only once
  every SLOW_ACCEPT_MS, as a server busy elsewhere would. A burst of
  connections fills its accept queue; the kernel then drops what does not
  fit (counted in TcpExt ListenOverflows and ListenDrops).
- PROMPT_PORT: listen(PROMPT_BACKLOG) and accept() at once.
Each accepted connection gets "hi\\n" and is closed.

Both listeners set TCP_DEFER_ACCEPT, as nginx's `listen ... deferred` does:
the kernel queues a connection for accept() only once the client's first
data arrives. On loopback a handshake ends within microseconds, so without
it a burst meets a full queue only at the SYN (dropped, retransmitted);
with it, also when the request arrives, as over a real network where many
handshakes are in flight at once.

A SYN that meets a full queue is always dropped. The segment that would
create the connection's socket (the handshake's last ACK; under
TCP_DEFER_ACCEPT the first data segment) depends on
net.ipv4.tcp_abort_on_overflow (a per-namespace sysctl, set by compose for
this container only): 0 drops it and lets the client retry, 1 answers it
with a reset.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

SLOW_PORT = int(os.environ.get("SLOW_PORT", "7001"))
SLOW_BACKLOG = int(os.environ.get("SLOW_BACKLOG", "4"))
SLOW_ACCEPT_S = int(os.environ.get("SLOW_ACCEPT_MS", "100")) / 1000
PROMPT_PORT = int(os.environ.get("PROMPT_PORT", "7002"))
PROMPT_BACKLOG = int(os.environ.get("PROMPT_BACKLOG", "1024"))

log = logging.getLogger("acceptq")


DEFER_ACCEPT_S = 5  # longer than any client here waits to send its first line


def listener(port: int, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, DEFER_ACCEPT_S)
    sock.bind(("0.0.0.0", port))
    sock.listen(backlog)
    return sock


def greet(conn: socket.socket) -> None:
    try:
        conn.settimeout(1)
        conn.recv(64)  # the client's line (already here: the accept was deferred until it was)
        conn.sendall(b"hi\n")
    except OSError:
        pass  # the client gave up or was reset: nothing to answer
    finally:
        conn.close()


def serve(sock: socket.socket, pause_s: float) -> None:
    while True:
        if pause_s:
            time.sleep(pause_s)
        conn, _ = sock.accept()
        greet(conn)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    slow, prompt = listener(SLOW_PORT, SLOW_BACKLOG), listener(PROMPT_PORT, PROMPT_BACKLOG)
    threading.Thread(target=serve, args=(prompt, 0.0), daemon=True).start()
    log.info("slow :%d backlog %d, accepts every %.0f ms", SLOW_PORT, SLOW_BACKLOG,
             SLOW_ACCEPT_S * 1000)  # fmt: skip
    log.info("prompt :%d backlog %d", PROMPT_PORT, PROMPT_BACKLOG)
    serve(slow, SLOW_ACCEPT_S)


if __name__ == "__main__":
    main()
