"""Nagle's algorithm and delayed ACKs, both ends, counted by the kernels and the capture.

Four cases, one connection each from nagle-client to nagle-server (services/wire/
nagle.py) on the lesson's internal network: Nagle on or TCP_NODELAY at the client
(which writes each request in two small writes) and at the server (which writes
each answer in two). Where a sender has Nagle on, its second small write waits
for the ACK of its first, and the receiver, waiting for the rest of the message,
holds that ACK back until its delayed-ACK timer fires (40 ms at least on Linux).

Judged from what does not depend on a quiet machine: each kernel's own count of
the ACKs it delayed (TcpExt DelayedACKs, read in each network namespace before and
after), and, in the capture at the server, how long a request's second segment
left after its first. The times are reported; their floor is a timer.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from comms_sandbox import docker, kernel_counters
from comms_sandbox.capture import Packet, capturing, packets
from scenarios import narration
from scenarios.on_the_wire import connections
from scenarios.on_the_wire.tools import run_client

NAGLE_PORT, NODELAY_PORT = 9100, 9101  # services/wire/nagle.py
REQUESTS = 40
DELAYED_ACK_MIN_MS = 40.0  # Linux's TCP_DELACK_MIN (HZ/25)
# Judged with room on both sides: the first request or two of a connection are ACKed
# at once (the kernel's quick-ACK mode at the start), and a busy machine adds time
# to a timer, never takes it away.
MOST, FEW = 0.5, 0.1
CASES = {
    "client Nagle, server Nagle": (False, NAGLE_PORT),
    "client Nagle, server TCP_NODELAY": (False, NODELAY_PORT),
    "client TCP_NODELAY, server Nagle": (True, NAGLE_PORT),
    "client TCP_NODELAY, server TCP_NODELAY": (True, NODELAY_PORT),
}


def run(folder: Path) -> dict[str, Any]:
    server = docker.containers("nagle-server")[0].name
    pcap = folder / "nagle.pcapng"
    results = {}
    with capturing(server, pcap, f"tcp port {NAGLE_PORT} or tcp port {NODELAY_PORT}"):
        for case, (nodelay, port) in CASES.items():
            narration.step(f"{case}: {REQUESTS} requests, each written in two small writes")
            results[case] = one_case(server, nodelay, port)
    seen = connections.connections(packets(pcap))
    for case, found in zip(CASES, _by_start(seen), strict=False):
        results[case]["capture"] = from_capture(found)
    return {"cases": results, "requests": REQUESTS, "holds": holds(results)}


def one_case(server: str, nodelay: bool, port: int) -> dict[str, Any]:
    before = server_delayed_acks(server)
    args = ["--host", "nagle-server", "--port", str(port), "--requests", str(REQUESTS)]
    client = run_client("nagle-client", *args, *(["--nodelay"] if nodelay else []))
    times = client["times_ms"]
    return {
        "median_ms": round(statistics.median(times), 3),
        "max_ms": max(times),
        "client_delayed_acks": client["counters"]["DelayedACKs"],
        "server_delayed_acks": server_delayed_acks(server) - before,
    }


def server_delayed_acks(container: str) -> int:
    """TcpExt DelayedACKs in the server's network namespace (its /proc/net/netstat)."""
    return kernel_counters.in_container(container)["TcpExt.DelayedACKs"]


def _by_start(found: list[connections.Connection]) -> list[connections.Connection]:
    """The cases' connections in the order they were opened (one per case)."""
    return sorted((c for c in found if c.transport == "tcp"), key=lambda c: c.started)


def from_capture(connection: connections.Connection) -> dict[str, Any]:
    """Per request, how long its last segment left after its first (the client's Nagle
    wait), and how many ACKs the server sent with nothing else in them."""
    requests = client_writes(connection)
    gaps = [round((sent[-1].time - sent[0].time) * 1000, 3) for sent in requests]
    bare_acks = [p for p in connection.packets if not connection.from_client(p) and bare(p)]
    return {
        "client_data_segments": sum(len(sent) for sent in requests),
        "median_gap_between_writes_ms": round(statistics.median(gaps), 3) if gaps else None,
        "server_bare_acks": len(bare_acks),
    }


def client_writes(connection: connections.Connection) -> list[list[Packet]]:
    """The client's data segments, one list per request: a request ends where the server
    starts answering. Its two writes may leave as one segment (on a busy machine the
    second joins the first before it is sent), so segments are not paired by count."""
    requests: list[list[Packet]] = []
    current: list[Packet] = []
    for packet in connection.packets:
        if connection.from_client(packet) and packet.payload > 0:
            current.append(packet)
        elif not connection.from_client(packet) and packet.payload > 0 and current:
            requests.append(current)
            current = []
    return [*requests, current] if current else requests


def holds(cases: dict[str, dict[str, Any]]) -> dict[str, bool]:
    """Each end's kernel delayed an ACK per request exactly where the other end's
    Nagle made it wait, and nowhere else; the capture shows the client's wait."""
    checks = {}
    for case, row in cases.items():
        client_nagle, server_nagle = case.startswith("client Nagle"), case.endswith("server Nagle")
        checks[f"{case}: the server's kernel delayed ACKs {_expected(client_nagle)}"] = _judge(
            row["server_delayed_acks"], client_nagle
        )
        checks[f"{case}: the client's kernel delayed ACKs {_expected(server_nagle)}"] = _judge(
            row["client_delayed_acks"], server_nagle
        )
        gap = (row.get("capture") or {}).get("median_gap_between_writes_ms")
        checks[f"{case}: the capture shows the second write "
               f"{'held for the ACK' if client_nagle else 'sent at once'}"] = (
            gap is not None and (gap >= DELAYED_ACK_MIN_MS * 0.9) == client_nagle
        )  # fmt: skip
    return checks


def _expected(nagle_on_the_other_side: bool) -> str:
    return "for most requests" if nagle_on_the_other_side else "for almost none"


def _judge(count: int, expected_most: bool) -> bool:
    return count >= REQUESTS * MOST if expected_most else count <= REQUESTS * FEW


def bare(packet: Packet) -> bool:
    """An ACK with nothing else: no data, no other flag."""
    return packet.flags == "A" and packet.payload == 0
