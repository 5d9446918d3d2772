"""A capture's packets grouped into connections, and round trips counted from them.

Everything here reads the packets alone (comms_sandbox.capture.Packet): who opened
a connection is whoever sent its first SYN (TCP) or its first datagram (QUIC);
application data is what TLS or QUIC carried for the application, as tshark
dissected it with the clients' key log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from comms_sandbox.capture import Packet

TLS_APPLICATION_DATA = 23  # record content type (the inner one, once decrypted)

Endpoint = tuple[str, int]


@dataclass
class Connection:
    transport: str
    stream: int
    client: Endpoint
    server: Endpoint
    packets: list[Packet]

    def from_client(self, packet: Packet) -> bool:
        return (packet.src, packet.sport) == self.client

    @property
    def started(self) -> float:
        return self.packets[0].time

    @property
    def client_randoms(self) -> set[str]:
        """The random of every ClientHello the client sent on it (hex)."""
        return {r for p in self.packets if self.from_client(p) for r in p.tls_random}


def connections(packets: Iterable[Packet]) -> list[Connection]:
    """Packets grouped by tshark's stream number, oldest first; each with its opener."""
    grouped: dict[tuple[str, int], list[Packet]] = {}
    for packet in sorted(packets, key=lambda p: p.time):
        grouped.setdefault((packet.transport, packet.stream), []).append(packet)
    return [_connection(key, group) for key, group in grouped.items()]


def _connection(key: tuple[str, int], group: list[Packet]) -> Connection:
    opening = next((p for p in group if p.flags == "S"), group[0])
    client, server = opening.endpoints
    return Connection(key[0], key[1], client, server, group)


# QUIC frames that ask for nothing: PADDING and ACK (PING is not one: it asks for an ACK).
QUIC_NOT_ELICITING = {0x00, 0x02, 0x03}


def carries(packet: Packet) -> bool:
    """Something the other side acts on: a SYN or any payload over TCP (not a bare ACK);
    over QUIC a packet with a frame other than ACK and PADDING (decrypted; a packet
    tshark could not decrypt counts as carrying)."""
    if packet.transport == "udp":
        return packet.payload > 0 and (
            not packet.quic_frames or any(f not in QUIC_NOT_ELICITING for f in packet.quic_frames)
        )
    return "S" in packet.flags or packet.payload > 0


NEW_SESSION_TICKET = 4  # TLS handshake message type
TLS_HANDSHAKE_RECORD = 22
# What a QUIC server sends once its handshake is done, whether or not the client waits:
# PADDING, ACK, CRYPTO (a session ticket), NEW_TOKEN, NEW_CONNECTION_ID,
# HANDSHAKE_DONE, and STREAM frames (on its own unidirectional streams: HTTP/3's
# control and QPACK streams; is_exchange_data() tells a request's or answer's apart).
QUIC_HOUSEKEEPING = {0x00, 0x02, 0x03, 0x06, 0x07, 0x18, 0x1E, *range(0x08, 0x10)}


def unasked(packet: Packet) -> bool:
    """Sent by a server unasked once the handshake is done: a session ticket (TLS 1.3
    sends it after the client's Finished, RFC 8446 §4.6.1), and over QUIC its
    housekeeping frames. The client never waits for one, so it ends no round trip;
    without the key log it cannot be recognised (its record says 23 outside)."""
    if any(t != NEW_SESSION_TICKET for t in packet.tls_handshake):
        return False
    if packet.transport == "tcp":
        return bool(packet.tls_handshake) and set(packet.tls_content) <= {TLS_HANDSHAKE_RECORD}
    return (not packet.quic_long and bool(packet.quic_frames)
            and set(packet.quic_frames) <= QUIC_HOUSEKEEPING
            and not is_exchange_data(packet))  # fmt: skip


def is_exchange_data(packet: Packet) -> bool:
    """Bytes of the request or its answer: over TCP a TLS record of type
    application_data (decrypted, so that a TLS 1.3 Finished, also type 23 outside, is
    not taken for one; the lesson speaks HTTP/1.1 there: the first such record each way
    is the request and the answer); over QUIC a STREAM frame on a bidirectional stream
    the client opened (ids 0, 4, 8...: HTTP/3's requests; its control streams are
    unidirectional)."""
    if packet.transport == "tcp":
        return TLS_APPLICATION_DATA in packet.tls_content
    return any(stream % 4 == 0 for stream in packet.quic_streams)


def round_trips(connection: Connection) -> dict[str, Any]:
    """Round trips before the request's first byte leaves, and before its answer arrives.

    A round trip is one wait for the other side. Before the request: the client sends
    something that needs an answer (carries()), and the server's next packet that
    carries something, other than what it sends unasked (unasked()), ends the wait.
    After it: the client waits for the answer; a
    request sent again before it (0-RTT data the server refused) is one more wait;
    what the server sends meanwhile (a session ticket, HTTP/3's settings) is not an
    answer. Counted with the packets' own timestamps; None when the capture never
    shows the request (or its answer)."""
    waits, waiting = 0, False
    request_at = answer_at = request_after = None
    for packet in connection.packets:
        exchange = is_exchange_data(packet)
        if connection.from_client(packet):
            if request_at is None and exchange:
                request_at, request_after = packet.time, waits
            elif request_at is None and carries(packet):
                waiting = True
            elif exchange and packet.time > request_at:
                waits += 1  # sent again: the first one was not taken
        elif request_at is None and waiting and carries(packet) and not unasked(packet):
            waits, waiting = waits + 1, False
        elif request_at is not None and exchange:
            waits, answer_at = waits + 1, packet.time
            break
    return {
        "before_request": request_after,
        "before_answer": waits if answer_at is not None else None,
        "request_s": _since(connection, request_at),
        "answer_s": _since(connection, answer_at),
    }


def _since(connection: Connection, moment: float | None) -> float | None:
    return None if moment is None else round(moment - connection.started, 6)


def projected_ttfb_ms(before_answer: int, rtt_ms: float) -> float:
    """Time to the first byte of the answer on a path of `rtt_ms`, if only round trips
    counted (no server time, no bandwidth): the handshake's and the request's own."""
    return before_answer * rtt_ms
