"""Ladder diagrams from a capture: client, proxy and server columns, one arrow per packet.

Labels come from the packets as tshark dissected them: TCP flags, the TLS and QUIC
handshake messages by name, QUIC's packet types, and the first application byte
each way (the request, the answer) marked. The proxy's column is the capture's own
container; a connection's other ends sit left (whoever opened a connection to the
proxy) or right (whom the proxy opened a connection to).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from comms_sandbox.capture import Packet
from scenarios import charts
from scenarios.on_the_wire.connections import TLS_APPLICATION_DATA, Connection, is_exchange_data

TLS_HANDSHAKE = {
    1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 5: "EndOfEarlyData",
    8: "EncryptedExtensions",
    11: "Certificate", 12: "ServerKeyExchange", 13: "CertificateRequest",
    14: "ServerHelloDone", 15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished",
}  # fmt: skip
TLS_CHANGE_CIPHER_SPEC = 20
QUIC_LONG = {0: "Initial", 1: "0-RTT", 2: "Handshake", 3: "Retry"}
COLUMNS = ["client", "captured here", "server"]
# The lesson's: the host's client (through Docker's port forwarder), nginx, an api replica.
WAYS_COLUMNS = ["client", "nginx (captured here)", "api replica"]
MAX_ARROWS = 40  # a long transfer's data segments add nothing past the first ones


def label(packet: Packet) -> str:
    """What a packet carries, in a few words: "SYN", "ClientHello", "Initial: ServerHello"."""
    messages = [TLS_HANDSHAKE.get(t, f"handshake {t}") for t in packet.tls_handshake]
    if TLS_CHANGE_CIPHER_SPEC in packet.tls_content and not messages:
        messages = ["ChangeCipherSpec"]
    if packet.transport == "udp":
        kinds = "+".join(QUIC_LONG.get(t, "?") for t in packet.quic_long) or "1-RTT"
        return f"{kinds}: {', '.join(messages)}" if messages else f"{kinds} ({packet.payload} B)"
    if TLS_APPLICATION_DATA in packet.tls_content:
        messages.append(f"application data ({packet.payload} B in all)")
    if messages and "S" in packet.flags:  # TCP Fast Open: data in the SYN
        return f"{_flag_words(packet.flags)} + {', '.join(messages)}"
    if messages:
        return ", ".join(messages)
    if packet.payload:
        return f"{'TLS' if packet.tls_content else 'data'} {packet.payload} B"
    return _flag_words(packet.flags)


def _flag_words(flags: str) -> str:
    words = {"S": "SYN", "F": "FIN", "R": "RST", "A": "ACK"}
    return "-".join(words[f] for f in flags if f in words) or "-"


def arrows(connection: Connection, related: Iterable[Packet] = ()) -> list[charts.Arrow]:
    """A connection's packets (and, on the right, the proxy's packets to a server in the
    same moments), as arrows; the first request and answer bytes marked."""
    started = connection.started
    marked: set[int] = set()
    for from_client in (True, False):
        first = next((p for p in connection.packets if connection.from_client(p) == from_client
                      and is_exchange_data(p)), None)  # fmt: skip
        if first is not None:
            marked.add(first.number)
    others = list(related)
    servers = server_ends(others)
    drawn = []
    for packet in first_with_marked([*connection.packets, *others], marked):
        start, end = _columns(connection, packet, servers)
        text = label(packet)
        if packet.number in marked:
            text = f"{'request' if start == 0 else 'answer'} begins: {text}"
        drawn.append((start, end, text, f"{(packet.time - started) * 1e3:.3f} ms",
                      packet.number in marked))  # fmt: skip
    return drawn


def first_with_marked(packets: list[Packet], marked: set[int]) -> list[Packet]:
    """The first MAX_ARROWS packets in time, the marked ones always among them: on a busy
    proxy the other test lane's packets to the api (port 8000) can fill the window before a
    QUIC connection's answer (ci-34), and a ladder without it shows nothing."""
    ordered = sorted(packets, key=lambda p: p.time)
    late = [p for p in ordered[MAX_ARROWS:] if p.number in marked]
    return sorted([*ordered[: MAX_ARROWS - len(late)], *late], key=lambda p: p.time)


def _columns(
    connection: Connection, packet: Packet, servers: set[tuple[str, int]]
) -> tuple[int, int]:
    if packet.stream == connection.stream and packet.transport == connection.transport:
        return (0, 1) if connection.from_client(packet) else (1, 0)
    # Another connection of the proxy's: towards a server (the api), or back.
    return (2, 1) if (packet.src, packet.sport) in servers else (1, 2)


def server_ends(related: list[Packet]) -> set[tuple[str, int]]:
    """The server end of each of the proxy's other connections: whoever got its SYN, or
    on a kept-alive connection (no SYN seen) the end with the lower, listening port."""
    ends = set()
    for stream in {p.stream for p in related}:
        packets = [p for p in related if p.stream == stream]
        syn = next((p for p in packets if p.flags == "S"), None)
        if syn is not None:
            ends.add((syn.dst, syn.dport))
        else:
            first = packets[0]
            ends.add(min(first.endpoints, key=lambda end: end[1]))
    return ends


def draw(path: Path, title: str, connection: Connection, related: Iterable[Packet] = ()) -> Path:
    """The ladder of one connection as a PNG."""
    return charts.save_ladder(path, title, COLUMNS, arrows(connection, related))


def file_name(way: str) -> str:
    """ladder-tcp-tls-13-resumed.png for "TCP + TLS 1.3 resumed"."""
    slug = way.lower().replace(" + ", "-").replace(" ", "-").replace(".", "")
    return f"ladder-{slug}.png"


def draw_all(ladders: dict[str, list[Any]], folder: Path) -> list[Path]:
    """The report's charts: one ladder per way, from the arrows the run kept."""
    return [charts.save_ladder(folder / file_name(way), way, WAYS_COLUMNS,
                               [tuple(arrow) for arrow in drawn])
            for way, drawn in ladders.items()]  # fmt: skip
