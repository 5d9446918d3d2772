"""TCP next to UDP, through nginx's stream module to the same echo service (port 8447 both).

- first answer: TCP connects first (SYN, SYN-ACK: a round trip before any
  data); UDP's first datagram is the data.
- message boundaries: UDP delivers each datagram whole or not at all; TCP
  is a byte stream, and 20 writes come back in however many reads the
  stack made of them.
- a burst against a busy receiver (the echo spends 200 us per read, its UDP
  receive buffer is small): TCP's flow control slows the sender and every
  message arrives, in order; UDP's sender never waits, and what does not fit
  in a receive buffer is dropped, counted by the kernel of the namespace
  where it happened (Udp.RcvbufErrors), never retransmitted. Sequence
  numbers in the payload show what was lost, duplicated or reordered.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Any

from comms_sandbox import docker, kernel_counters, ports

BURST = 2000
PAYLOAD = 256  # bytes per message: a 4-byte sequence number and padding
MESSAGES = 20  # for the boundaries test, sizes 1, 2, ... 20 x 7 bytes
QUIET_S = 1.0  # no more echoes for this long: the burst is over
DROPS = ("Udp.RcvbufErrors", "Udp.InErrors")


def echo_answers() -> bool:
    """Whether the echo answers over TCP through nginx (its profile may not be running)."""
    try:
        with socket.create_connection(address(), timeout=2) as tcp:
            tcp.settimeout(2)
            tcp.sendall(b"?")
            return tcp.recv(1) == b"?"
    except OSError:
        return False


def address() -> tuple[str, int]:
    return ports.HOST, ports.PROXY_ECHO_TCP.port


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # A large buffer: the drops the lesson shows happen at the busy receiver.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.connect((ports.HOST, ports.PROXY_ECHO_UDP.port))
    sock.settimeout(5)
    return sock


def first_answer() -> dict[str, Any]:
    started = time.monotonic()
    with socket.create_connection(address(), timeout=5) as tcp:
        connected = time.monotonic()
        tcp.sendall(b"hello")
        tcp.recv(64)
        tcp_done = time.monotonic()
    with udp_socket() as udp:
        udp_started = time.monotonic()
        udp.send(b"hello")
        udp.recv(64)
        udp_done = time.monotonic()
    return {
        "TCP": {"round_trips": 2, "connect_ms": _ms(connected - started),
                "first_answer_ms": _ms(tcp_done - started)},
        "UDP": {"round_trips": 1, "connect_ms": 0.0,
                "first_answer_ms": _ms(udp_done - udp_started)},
    }  # fmt: skip


def boundaries() -> dict[str, Any]:
    messages = [bytes([65 + i % 26]) * (7 * (i + 1)) for i in range(MESSAGES)]
    with udp_socket() as udp:
        for message in messages:
            udp.send(message)
        datagrams = [udp.recv(65536) for _ in messages]
    with socket.create_connection(address(), timeout=5) as tcp:
        for message in messages:
            tcp.sendall(message)
        time.sleep(0.3)  # let every echo arrive before reading
        reads = _read_exactly(tcp, sum(map(len, messages)))
    return {
        "writes": len(messages),
        "UDP": {"reads": len(datagrams), "each_whole": sorted(datagrams) == sorted(messages)},
        "TCP": {"reads": len(reads), "each_whole": reads == messages,
                "bytes_back": sum(map(len, reads)) == sum(map(len, messages))},
    }  # fmt: skip


def _read_exactly(sock: socket.socket, total: int) -> list[bytes]:
    reads: list[bytes] = []
    while sum(map(len, reads)) < total:
        chunk = sock.recv(65536)
        if not chunk:
            break
        reads.append(chunk)
    return reads


def message(sequence: int) -> bytes:
    return struct.pack("!I", sequence) + b"." * (PAYLOAD - 4)


def sequences(data: bytes) -> list[int]:
    return [
        struct.unpack_from("!I", data, at)[0] for at in range(0, len(data) - PAYLOAD + 1, PAYLOAD)
    ]


def udp_burst() -> dict[str, Any]:
    received: list[int] = []
    with udp_socket() as udp:
        listener = threading.Thread(target=_collect, args=(udp, received))
        listener.start()
        started = time.monotonic()
        for sequence in range(BURST):
            udp.send(message(sequence))
        sent_s = time.monotonic() - started
        listener.join()
    return {"sent_in_ms": _ms(sent_s)} | delivery(received)


def _collect(sock: socket.socket, into: list[int]) -> None:
    sock.settimeout(QUIET_S)
    try:
        while True:
            into.extend(sequences(sock.recv(65536)))
    except TimeoutError:
        pass


def tcp_burst() -> dict[str, Any]:
    data = b"".join(message(sequence) for sequence in range(BURST))
    with socket.create_connection(address(), timeout=10) as tcp:
        started = time.monotonic()
        sender = threading.Thread(target=tcp.sendall, args=(data,))
        sender.start()
        echoed = b"".join(_read_exactly(tcp, len(data)))
        sender.join()
        took = time.monotonic() - started
    return {"sent_in_ms": _ms(took)} | delivery(sequences(echoed))


def delivery(received: list[int]) -> dict[str, Any]:
    """What arrived of 0..BURST-1: counts of lost, duplicated and out-of-order messages."""
    highest, reordered = -1, 0
    for sequence in received:
        reordered += sequence < highest
        highest = max(highest, sequence)
    return {
        "sent": BURST,
        "received": len(received),
        "lost": BURST - len(set(received)),
        "duplicated": len(received) - len(set(received)),
        "reordered": reordered,
    }


def burst() -> dict[str, Any]:
    where = {"echo": docker.containers("echo")[0].name, "proxy": docker.containers("proxy")[0].name}
    # The host's namespace holds the client and Docker's port forwarder.
    before = {name: kernel_counters.in_container(c) for name, c in where.items()}
    before["host"] = kernel_counters.on_host()
    udp = udp_burst()
    after = {name: kernel_counters.in_container(c) for name, c in where.items()}
    after["host"] = kernel_counters.on_host()
    udp["dropped_by_kernel"] = {
        name: kernel_counters.delta(before[name], after[name], DROPS) for name in before
    }
    return {"UDP": udp, "TCP": tcp_burst()}


def run() -> dict[str, Any]:
    parts = {"first_answer": first_answer(), "boundaries": boundaries(), "burst": burst()}
    return parts | {"holds": holds(parts)}


def holds(parts: dict[str, Any]) -> dict[str, bool]:
    b, burst_ = parts["boundaries"], parts["burst"]
    udp, tcp = burst_["UDP"], burst_["TCP"]
    kernel_drops = sum(d["Udp.RcvbufErrors"] for d in udp["dropped_by_kernel"].values())
    return {
        "UDP keeps message boundaries: one read per datagram, each whole": (
            b["UDP"]["reads"] == b["writes"] and b["UDP"]["each_whole"]
        ),
        "TCP does not: the writes came back in fewer reads": (
            b["TCP"]["bytes_back"] and b["TCP"]["reads"] < b["writes"]
        ),
        "TCP delivers the whole burst, once each, in order": (
            tcp["received"] == BURST and tcp["lost"] == tcp["duplicated"] == tcp["reordered"] == 0
        ),
        "UDP loses part of the burst, and no one resends it": udp["lost"] > 0,
        # Receive-buffer drops in the echo's, nginx's and the host's namespaces.
        "every lost datagram was counted by a kernel as a receive-buffer drop": (
            kernel_drops >= udp["lost"] > 0
        ),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
