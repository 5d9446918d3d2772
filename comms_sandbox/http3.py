"""HTTP/3 over QUIC from the host, driven by hand so that its handshake can be watched.

aioquic is sans-I/O: this module owns the UDP socket, so it knows exactly
which datagrams left before the server's first answer arrived (the first
flight, the one 0-RTT puts the request in), how many times the client had
to wait for the server before its request could leave, and when each
response's first byte came back.

    with H3Session.open(ticket=saved) as session:        # ticket: resume, 0-RTT
        exchange = session.request("GET", "/whoami")        # leaves now (0-RTT) or
        session.run_until(exchange.finished)                # after the handshake
        exchange.status, session.early_data_accepted, exchange.flights_before_sent
"""

from __future__ import annotations

import functools
import os
import select
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TextIO

from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    QuicEvent,
    StreamReset,
)
from aioquic.tls import SessionTicket

from comms_sandbox import config, ports

SERVER_NAME = "localhost"  # the name on the proxy's certificate
MAX_BODY = 1024 * 1024  # a response body over this is cut off: the client's own limit

Headers = list[tuple[bytes, bytes]]


class H3Error(RuntimeError):
    """The connection ended or timed out before what was waited for happened."""


@dataclass
class Exchange:
    """One request on an HTTP/3 connection and what came back."""

    method: str
    path: str
    stream_id: int
    started_at: float
    flights_before_sent: int = 0  # server flights the client waited for before it left
    status: int | None = None
    headers: Headers = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    first_byte_at: float | None = None
    finished_at: float | None = None
    reset_code: int | None = None  # the server reset the stream (RESET_STREAM)

    def finished(self) -> bool:
        return self.finished_at is not None

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        return next((v.decode() for k, v in self.headers if k == wanted), None)

    @property
    def ttfb_s(self) -> float | None:
        return None if self.first_byte_at is None else self.first_byte_at - self.started_at


def configuration(ticket: SessionTicket | None = None) -> QuicConfiguration:
    quic = QuicConfiguration(
        is_client=True, alpn_protocols=H3_ALPN, server_name=SERVER_NAME, session_ticket=ticket
    )
    quic.load_verify_locations(cafile=str(config.ca_cert()))
    # A capture's key log (comms_sandbox/capture.py), as Python's ssl reads it for TCP.
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog:
        quic.secrets_log_file = secrets_log(keylog)
    return quic


@functools.cache
def secrets_log(path: str) -> TextIO:
    """One appending file per key log for the process: aioquic writes a line and flushes
    at each new secret, so nothing is lost when the process ends."""
    return open(path, "a", encoding="ascii")


class H3Session:
    """One QUIC connection to the proxy, with HTTP/3 on top, run step by step."""

    def __init__(self, quic: QuicConfiguration, address: tuple[str, int]) -> None:
        self.address = address
        self.tickets: list[SessionTicket] = []
        self.quic = QuicConnection(configuration=quic, session_ticket_handler=self.tickets.append)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(address)
        self.started_at = time.monotonic()
        self.quic.connect(address, now=self.started_at)
        self.h3 = H3Connection(self.quic)
        self.exchanges: dict[int, Exchange] = {}
        self.first_flight: list[bytes] = []  # every datagram sent before the first answer
        self.flights_received = 0
        self.handshake: HandshakeCompleted | None = None
        self.handshake_at: float | None = None
        self.terminated: ConnectionTerminated | None = None

    @classmethod
    def open(cls, ticket: SessionTicket | None = None, port: int | None = None) -> H3Session:
        return cls(configuration(ticket), (ports.HOST, port or ports.PROXY_QUIC.port))

    def __enter__(self) -> H3Session:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- what happened -----------------------------------------------------------------

    @property
    def alpn(self) -> str | None:
        return self.handshake.alpn_protocol if self.handshake else None

    @property
    def early_data_accepted(self) -> bool:
        return bool(self.handshake and self.handshake.early_data_accepted)

    @property
    def resumed(self) -> bool:
        return bool(self.handshake and self.handshake.session_resumed)

    @property
    def handshake_s(self) -> float | None:
        return None if self.handshake_at is None else self.handshake_at - self.started_at

    def ticket(self) -> SessionTicket:
        """The newest session ticket the server sent (for resumption and 0-RTT)."""
        if not self.tickets:
            raise H3Error("the server sent no session ticket")
        return self.tickets[-1]

    # --- doing things ------------------------------------------------------------------

    def request(
        self, method: str, path: str, headers: Iterable[tuple[str, str]] = (), body: bytes = b"",
        *, raw_headers: Headers | None = None,
    ) -> Exchange:  # fmt: skip
        """Queue a request and send what can be sent now; `raw_headers` replaces the usual ones."""
        stream_id = self.quic.get_next_available_stream_id()
        sent = raw_headers if raw_headers is not None else self._headers(method, path, headers)
        self.h3.send_headers(stream_id, sent, end_stream=not body)
        if body:
            self.h3.send_data(stream_id, body, end_stream=True)
        exchange = Exchange(method, path, stream_id, time.monotonic(), self.flights_received)
        self.exchanges[stream_id] = exchange
        self._flush()
        return exchange

    def run_until(self, done: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Exchange datagrams until `done()`; H3Error if the connection ends or time runs out."""
        deadline = time.monotonic() + timeout_s
        self._flush()
        while not done():
            if self.terminated is not None:
                raise H3Error(f"connection closed: {self.terminated.reason_phrase or 'no reason'} "
                              f"(error {self.terminated.error_code:#x})")  # fmt: skip
            if time.monotonic() > deadline:
                raise H3Error(f"nothing more after {timeout_s} s")
            self._wait(deadline)
            self._flush()

    def pump(self, seconds: float) -> None:
        """Keep the connection running for `seconds`, taking in whatever arrives."""
        until = time.monotonic() + seconds
        while time.monotonic() < until and self.terminated is None:
            self._wait(until)
            self._flush()

    def handshake_done(self) -> bool:
        return self.handshake is not None

    def close(self) -> None:
        if self.terminated is None:
            self.quic.close()
            self._flush()
        self.sock.close()

    # --- the loop ----------------------------------------------------------------------

    def _headers(self, method: str, path: str, extra: Iterable[tuple[str, str]]) -> Headers:
        host = f"{SERVER_NAME}:{self.address[1]}"
        pseudo = [(b":method", method.encode()), (b":scheme", b"https"),
                  (b":authority", host.encode()), (b":path", path.encode())]  # fmt: skip
        return pseudo + [(k.lower().encode(), v.encode()) for k, v in extra]

    def _flush(self) -> None:
        now = time.monotonic()
        timer = self.quic.get_timer()
        if timer is not None and timer <= now:
            self.quic.handle_timer(now)
            self._process_events()
        for data, _ in self.quic.datagrams_to_send(now=now):
            if self.flights_received == 0:
                self.first_flight.append(data)
            self.sock.send(data)

    def _wait(self, deadline: float) -> None:
        """Block until the server sends something (one flight: all that arrives together)."""
        timer = self.quic.get_timer()
        until = min(deadline, timer) if timer is not None else deadline
        ready, _, _ = select.select([self.sock], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            return  # a timer fired: _flush handles it
        self.flights_received += 1
        while ready:
            data = self.sock.recv(65536)
            self.quic.receive_datagram(data, self.address, now=time.monotonic())
            ready, _, _ = select.select([self.sock], [], [], 0)
        self._process_events()

    def _process_events(self) -> None:
        while (event := self.quic.next_event()) is not None:
            self._on_quic_event(event)
            for h3_event in self.h3.handle_event(event):
                self._on_h3_event(h3_event)

    def _on_quic_event(self, event: QuicEvent) -> None:
        if isinstance(event, HandshakeCompleted):
            self.handshake, self.handshake_at = event, time.monotonic()
        elif isinstance(event, ConnectionTerminated):
            self.terminated = event
        elif isinstance(event, StreamReset) and event.stream_id in self.exchanges:
            exchange = self.exchanges[event.stream_id]
            exchange.reset_code, exchange.finished_at = event.error_code, time.monotonic()

    def _on_h3_event(self, event: H3Event) -> None:
        exchange = self.exchanges.get(getattr(event, "stream_id", -1))
        if exchange is None:
            return
        now = time.monotonic()
        if exchange.first_byte_at is None:
            exchange.first_byte_at = now
        if isinstance(event, HeadersReceived):
            exchange.headers.extend(event.headers)
            status = exchange.header(":status")
            exchange.status = int(status) if status else exchange.status
        elif isinstance(event, DataReceived):
            exchange.body.extend(event.data[: MAX_BODY - len(exchange.body)])
        if getattr(event, "stream_ended", False):
            exchange.finished_at = now


def get(path: str, ticket: SessionTicket | None = None, timeout_s: float = 10.0) -> Exchange:
    """One GET over a fresh connection (after the handshake unless `ticket` allows 0-RTT)."""
    with H3Session.open(ticket) as session:
        if ticket is None:
            session.run_until(session.handshake_done, timeout_s)
        exchange = session.request("GET", path)
        session.run_until(exchange.finished, timeout_s)
        return exchange


def fetch_ticket(path: str = "/whoami") -> SessionTicket:
    """A session ticket from a full connection, for resuming the next one."""
    with H3Session.open() as session:
        session.run_until(session.handshake_done)
        exchange = session.request("GET", path)
        session.run_until(lambda: exchange.finished() and bool(session.tickets))
        return session.ticket()


REPLAY_PACING_S = 0.02


def replay(datagrams: list[bytes], address: tuple[str, int], listen_s: float = 1.0) -> int:
    """Send captured datagrams again from a new socket; how many datagrams came back.

    Paced: the first datagram of a new client makes Docker's port forwarder
    set up a flow, and datagrams right behind it can be dropped meanwhile. A
    real client would retransmit them; a replay has nothing to retransmit with.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        for data in datagrams:
            sock.send(data)
            time.sleep(REPLAY_PACING_S)
        return len(receive_all(sock, listen_s))


def receive_all(sock: socket.socket, listen_s: float) -> list[bytes]:
    """Every datagram that arrives on `sock` within `listen_s`."""
    answers, deadline = [], time.monotonic() + listen_s
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            break
        try:
            answers.append(sock.recv(65536))
        except ConnectionRefusedError:  # ICMP port unreachable: nobody listens
            break
    return answers
