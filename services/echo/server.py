"""Echoes what it receives, over TCP and over UDP on the same port, as a busy receiver would.

The two protocols get the same receiver: each read costs ECHO_READ_COST_US
of work before the echo goes out. Under a burst that is faster than that,
TCP's flow control makes the sender wait and nothing is lost; UDP's sender
never waits, the socket's receive buffer (ECHO_UDP_RCVBUF bytes, small on
purpose) fills, and the kernel drops what does not fit, counting it in
/proc/net/snmp (Udp RcvbufErrors) of this container's network namespace.

Limits: datagrams over MAX_DATAGRAM bytes are truncated (and counted), at
most MAX_TCP_CLIENTS connections at once (more are closed at once), an idle
TCP connection is closed after IDLE_TIMEOUT_S.
"""

from __future__ import annotations

import logging
import os
import socket
import socketserver
import threading
import time

PORT = int(os.environ.get("ECHO_PORT", "7000"))
READ_COST_S = int(os.environ.get("ECHO_READ_COST_US", "200")) / 1e6
UDP_RCVBUF = int(os.environ.get("ECHO_UDP_RCVBUF", "16384"))
MAX_DATAGRAM = 2048
MAX_TCP_CLIENTS = 32
IDLE_TIMEOUT_S = 30.0
TCP_READ = 65536

log = logging.getLogger("echo")
tcp_slots = threading.BoundedSemaphore(MAX_TCP_CLIENTS)


def busy(seconds: float) -> None:
    """Work that holds the reader, like parsing or a write to disk would."""
    time.sleep(seconds)


def serve_udp(sock: socket.socket) -> None:
    while True:
        data, peer = sock.recvfrom(MAX_DATAGRAM + 1)
        if len(data) > MAX_DATAGRAM:
            log.warning("datagram from %s over %d bytes: truncated", peer, MAX_DATAGRAM)
            data = data[:MAX_DATAGRAM]
        busy(READ_COST_S)
        sock.sendto(data, peer)


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        if not tcp_slots.acquire(blocking=False):
            log.warning(
                "more than %d TCP clients: closing %s", MAX_TCP_CLIENTS, self.client_address
            )
            return
        try:
            self.request.settimeout(IDLE_TIMEOUT_S)
            self.echo_until_closed()
        except (TimeoutError, ConnectionError):
            pass  # an idle or vanished client: its connection just ends
        finally:
            tcp_slots.release()

    def echo_until_closed(self) -> None:
        while data := self.request.recv(TCP_READ):
            busy(READ_COST_S)
            self.request.sendall(data)


class TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
    sock.bind(("0.0.0.0", PORT))
    return sock


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    udp = udp_socket()
    threading.Thread(target=serve_udp, args=(udp,), name="udp", daemon=True).start()
    rcvbuf = udp.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    log.info("echo on tcp and udp :%d, %.0f us per read, udp rcvbuf %d", PORT, READ_COST_S * 1e6,
             rcvbuf)  # fmt: skip
    with TCPServer(("0.0.0.0", PORT), EchoHandler) as server:
        server.serve_forever()
