"""Round trips before the first request can leave, counted from the handshakes' own messages.

- TCP + TLS 1.3: connect() returns when the server's SYN-ACK arrives (one
  round trip, the kernel's); then TLS runs over memory buffers, so every
  time the client sends a flight and must wait for the server's answer
  before it can go on is counted.
- QUIC: comms_sandbox.http3 owns the UDP socket and counts the server's
  flights received before the datagram carrying the request was sent: 1
  for a full handshake, 0 when the request rode in the first flight (0-RTT).

Time to first byte is measured from the first packet sent to the first
byte of the response; on loopback a round trip costs microseconds, so the
counts are what carries over to a real network (each one is an RTT).
"""

from __future__ import annotations

import socket
import ssl
import statistics
import time
from collections.abc import Callable
from functools import cache
from typing import Any

from aioquic.tls import SessionTicket

from comms_sandbox import config, ports
from comms_sandbox.http3 import H3Session

PATH = "/whoami"
REPEATS = 5  # connections per path; times are medians
PROJECTED_RTT_MS = 50  # a typical internet round trip, for the projected time to first byte
READ = 65536


@cache
def tls13_context() -> ssl.SSLContext:
    """One context for every connection: a session resumes only with the context that made it."""
    context = config.tls_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.set_alpn_protocols(["http/1.1"])
    return context


class TlsOverTcp:
    """A TLS 1.3 client over a TCP socket, its handshake driven over memory buffers."""

    def __init__(self, session: ssl.SSLSession | None = None) -> None:
        self.started = time.monotonic()
        self.sock = socket.create_connection((ports.HOST, ports.PROXY_TLS.port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tcp_round_trips = 1  # SYN -> SYN-ACK: connect() returned, so it happened
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = tls13_context().wrap_bio(
            self.incoming, self.outgoing, server_hostname="localhost", session=session
        )
        self.tls_round_trips = 0

    def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                self._exchange()

    def _exchange(self) -> None:
        """Send what TLS wrote; wait for the server's answer (a round trip if something went)."""
        pending = self.outgoing.read()
        if pending:
            self.sock.sendall(pending)
            self.tls_round_trips += 1
        self.incoming.write(self.sock.recv(READ) or b"")

    def first_byte(self, path: str) -> None:
        """Send a GET and wait for the first bytes of its answer."""
        self.tls.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                       .encode())  # fmt: skip
        self.sock.sendall(self.outgoing.read())
        while True:
            try:
                if self.tls.read(READ):
                    return
            except ssl.SSLWantReadError:
                self.incoming.write(self.sock.recv(READ) or b"")

    def close(self) -> None:
        self.sock.close()


def tcp_tls(session: ssl.SSLSession | None = None) -> tuple[dict[str, Any], ssl.SSLSession]:
    client = TlsOverTcp(session)
    try:
        client.handshake()
        handshake_s = time.monotonic() - client.started
        client.first_byte(PATH)
        ttfb_s = time.monotonic() - client.started
        facts = {
            "round_trips_before_request": client.tcp_round_trips + client.tls_round_trips,
            "tcp_round_trips": client.tcp_round_trips,
            "crypto_round_trips": client.tls_round_trips,
            "resumed": client.tls.session_reused,
            "early_data": False,  # Python's ssl cannot send TLS early data
            "handshake_ms": round(handshake_s * 1000, 2),
            "ttfb_ms": round(ttfb_s * 1000, 2),
        }
        return facts, client.tls.session
    finally:
        client.close()


def quic(ticket: SessionTicket | None = None) -> tuple[dict[str, Any], SessionTicket | None]:
    """A full handshake then a GET, or with a ticket the GET in the first flight (0-RTT)."""
    with H3Session.open(ticket) as session:
        if ticket is None:
            session.run_until(session.handshake_done)
        exchange = session.request("GET", PATH)
        session.run_until(lambda: exchange.finished() and bool(session.tickets))
        facts = {
            "round_trips_before_request": exchange.flights_before_sent,
            "tcp_round_trips": 0,
            "crypto_round_trips": exchange.flights_before_sent,
            "resumed": session.resumed,
            "early_data": session.early_data_accepted,
            "handshake_ms": round((session.handshake_s or 0) * 1000, 2),
            "ttfb_ms": round((exchange.first_byte_at - session.started_at) * 1000, 2),
        }
        return facts, session.ticket()


def repeated(connect: Callable[[Any], tuple[dict[str, Any], Any]], resume: bool) -> dict[str, Any]:
    """REPEATS connections (each resuming with what the one before left, if `resume`):
    the first one's facts, the median times, and every round-trip count seen."""
    _, carried = connect(None)  # a warm-up, and the first session to resume
    runs = []
    for _ in range(REPEATS):
        facts, left = connect(carried if resume else None)
        runs.append(facts)
        carried = left if resume else carried
    summary = dict(runs[0])
    for key in ("handshake_ms", "ttfb_ms"):
        summary[key] = round(statistics.median(run[key] for run in runs), 2)
    summary["round_trips_seen"] = sorted({run["round_trips_before_request"] for run in runs})
    summary["connections"] = REPEATS
    # Loopback round trips cost microseconds; on a real path each costs an RTT.
    summary["ttfb_ms_at_50ms_rtt"] = round(
        summary["ttfb_ms"] + (summary["round_trips_before_request"] + 1) * PROJECTED_RTT_MS, 1
    )
    return summary


def run() -> dict[str, Any]:
    paths = {
        "TCP + TLS 1.3": repeated(tcp_tls, resume=False),
        "TCP + TLS 1.3, resumed": repeated(tcp_tls, resume=True),
        "QUIC (1-RTT)": repeated(quic, resume=False),
        "QUIC, resumed (0-RTT)": repeated(quic, resume=True),
    }
    return {"paths": paths, "holds": holds(paths)}


def holds(paths: dict[str, dict[str, Any]]) -> dict[str, bool]:
    """The textbook counts, checked against what every handshake did."""
    seen = {name: p["round_trips_seen"] for name, p in paths.items()}
    return {
        "TCP + TLS 1.3 needs 2 round trips before the request, resumed or not": (
            seen["TCP + TLS 1.3"] == seen["TCP + TLS 1.3, resumed"] == [2]
        ),
        "QUIC needs 1": seen["QUIC (1-RTT)"] == [1],
        "QUIC 0-RTT sends the request in the first flight": (
            seen["QUIC, resumed (0-RTT)"] == [0] and paths["QUIC, resumed (0-RTT)"]["early_data"]
        ),
        "the resumed ones were resumed": all(
            paths[name]["resumed"] for name in ("TCP + TLS 1.3, resumed", "QUIC, resumed (0-RTT)")
        ),
    }
