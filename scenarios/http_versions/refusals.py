"""Bad input on the QUIC port: each refused, and a well-behaved client served right after.

- garbage datagrams (random bytes, 1 to 1400 of them) while another client
  is connected: nginx finds no connection they belong to and drops them, at
  most answering a stateless reset (RFC 9000 10.3); the connected client
  goes on;
- a client offering only a version nginx does not speak: a Version
  Negotiation packet comes back listing the versions it does (RFC 9000 6);
- HTTP/3 requests with invalid header sections (an uppercase name, no
  :path, CR LF inside a value): 400 on that request stream, while the
  connection goes on serving.
After each, a fresh HTTP/3 GET is answered 200, and the proxy container
has not restarted.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Any

from comms_sandbox import docker, http3, ports
from comms_sandbox.http3 import H3Session

GARBAGE_SIZES = (1, 7, 20, 64, 1200, 1400)
UNKNOWN_VERSION = 0x1A2A3A4A  # of the 0x?a?a?a?a pattern RFC 9000 reserves for this test
QUIC_V1 = 0x00000001
MIN_INITIAL = 1200  # a client's Initial datagram is padded to at least this

PSEUDO = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"localhost")]
BAD_HEADERS = {
    "an uppercase header name": [*PSEUDO, (b":path", b"/whoami"), (b"X-Upper", b"1")],
    "no :path": PSEUDO,
    "CR LF inside a value": [*PSEUDO, (b":path", b"/whoami"), (b"x-split", b"a\r\nx-b: c")],
}


def quic_address() -> tuple[str, int]:
    return ports.HOST, ports.PROXY_QUIC.port


def is_stateless_reset(packet: bytes) -> bool:
    """Short header (0b01 first bits), at least 21 bytes: all a server says to an unknown packet."""
    return len(packet) >= 21 and packet[0] & 0xC0 == 0x40


def garbage() -> dict[str, Any]:
    """Garbage while another client holds a connection; that client asks again afterwards."""
    with H3Session.open() as bystander:
        bystander.run_until(bystander.handshake_done)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(quic_address())
            for size in GARBAGE_SIZES:
                sock.send(os.urandom(size))
            answers = http3.receive_all(sock, listen_s=1.0)
        after = bystander.request("GET", "/whoami")
        bystander.run_until(after.finished)
    return {
        "datagrams": len(GARBAGE_SIZES),
        "answers": len(answers),
        "answers_that_are_stateless_resets": sum(map(is_stateless_reset, answers)),
        "connected_client_then": after.status,
    }


def initial_with_version(version: int) -> tuple[bytes, bytes]:
    """A long-header Initial-shaped datagram with `version`; its source connection id."""
    dcid, scid = os.urandom(8), os.urandom(8)
    header = bytes([0xC0]) + struct.pack("!I", version) + bytes([8]) + dcid + bytes([8]) + scid
    return header + bytes(MIN_INITIAL - len(header)), scid


def parse_version_negotiation(packet: bytes, scid: bytes) -> list[int] | None:
    """The versions a Version Negotiation packet offers, or None if it is not one for us."""
    if len(packet) < 7 or not packet[0] & 0x80 or packet[1:5] != bytes(4):
        return None
    at = 5
    dcid = packet[at + 1 : at + 1 + packet[at]]
    at += 1 + packet[at]
    at += 1 + packet[at]
    if dcid != scid:  # it must echo our source id as its destination
        return None
    return [struct.unpack_from("!I", packet, i)[0] for i in range(at, len(packet) - 3, 4)]


def no_common_version() -> dict[str, Any]:
    packet, scid = initial_with_version(UNKNOWN_VERSION)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(quic_address())
        sock.settimeout(3)
        sock.send(packet)
        try:
            offered = parse_version_negotiation(sock.recv(2048), scid)
        except TimeoutError:
            offered = None
    return {
        "offered": f"{UNKNOWN_VERSION:#010x}",
        "server_offers": [f"{v:#010x}" for v in offered] if offered is not None else None,
        "then": http3.get("/whoami").status,
    }


def bad_headers() -> dict[str, Any]:
    outcomes = {}
    for name, headers in BAD_HEADERS.items():
        with H3Session.open() as session:
            session.run_until(session.handshake_done)
            bad = session.request("GET", "/", raw_headers=headers)
            session.run_until(bad.finished, timeout_s=5)
            good = session.request("GET", "/whoami")
            session.run_until(good.finished, timeout_s=5)
            outcomes[name] = {"status": bad.status, "reset": bad.reset_code,
                              "same_connection_then": good.status}  # fmt: skip
    return outcomes


def run() -> dict[str, Any]:
    proxy = docker.containers("proxy")[0].name
    restarts = docker.inspect(proxy, "{{.RestartCount}}")
    result = {"garbage": garbage(), "no_common_version": no_common_version(),
              "bad_headers": bad_headers()}  # fmt: skip
    result["proxy_restarted"] = docker.inspect(proxy, "{{.RestartCount}}") != restarts
    result["fresh_client_then"] = http3.get("/whoami").status
    return result | {"holds": holds(result)}


def holds(r: dict[str, Any]) -> dict[str, bool]:
    return {
        "garbage gets at most stateless resets, and a connected client goes on": (
            r["garbage"]["answers_that_are_stateless_resets"] == r["garbage"]["answers"]
            and r["garbage"]["connected_client_then"] == 200
        ),
        "an unknown version gets Version Negotiation offering QUIC v1": (
            f"{QUIC_V1:#010x}" in (r["no_common_version"]["server_offers"] or [])
            and r["no_common_version"]["then"] == 200
        ),
        "invalid headers get 400, and the connection goes on": all(
            o["status"] == 400 and o["same_connection_then"] == 200
            for o in r["bad_headers"].values()
        ),
        "the proxy did not restart, and a fresh client is served": (
            not r["proxy_restarted"] and r["fresh_client_then"] == 200
        ),
    }
