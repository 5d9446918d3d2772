"""The http-versions verdicts fail when the measured property does not hold (no Docker needed)."""

from __future__ import annotations

import copy
import struct
from typing import Any

import pytest

from comms_sandbox import kernel_counters
from scenarios.http_versions import (
    handshakes,
    head_of_line,
    negotiation,
    refusals,
    tcp_udp,
    zero_rtt,
)


def client(version: str, alpn: str, connections: int) -> dict[str, Any]:
    protocol = {"HTTP/2": "HTTP/2.0", "HTTP/3": "HTTP/3.0"}.get(version, version)
    return {"version": version, "alpn": alpn, "nginx_alpn": alpn, "nginx_protocol": protocol,
            "statuses": [200], "requests_logged": negotiation.REQUESTS,
            "connections": connections, "alt_svc": 'h3=":8443"; ma=86400'}  # fmt: skip


def good_negotiation() -> dict[str, dict[str, Any]]:
    return {name: client(*expected) for name, expected in negotiation.EXPECTED.items()}


def test_negotiation_holds_for_the_expected_protocols_and_connections() -> None:
    assert all(negotiation.holds(good_negotiation()).values())


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("HTTP/1.1, 6 connections", "connections", 1),  # the pool was not used
        ("HTTP/2, 1 connection", "alpn", "http/1.1"),  # h2 not negotiated
        ("HTTP/3, 1 connection", "connections", 12),  # a connection per request
        ("HTTP/2, 1 connection", "alt_svc", None),  # not advertised
        ("HTTP/3, 1 connection", "nginx_protocol", "HTTP/2.0"),  # the ends disagree
    ],
)
def test_negotiation_fails_on_a_wrong_measurement(name: str, field: str, value: Any) -> None:
    clients = good_negotiation()
    clients[name][field] = value
    assert not all(negotiation.holds(clients).values())


def handshake_paths(counts: tuple[int, int, int, int], early: bool = True) -> dict[str, Any]:
    names = ("TCP + TLS 1.3", "TCP + TLS 1.3, resumed", "QUIC (1-RTT)", "QUIC, resumed (0-RTT)")
    return {name: {"round_trips_seen": [count], "resumed": "resumed" in name, "early_data": early}
            for name, count in zip(names, counts, strict=True)}  # fmt: skip


def test_handshakes_hold_for_the_textbook_counts() -> None:
    assert all(handshakes.holds(handshake_paths((2, 2, 1, 0))).values())


@pytest.mark.parametrize(
    ("counts", "early"),
    [((2, 2, 1, 1), True), ((2, 2, 2, 0), True), ((3, 2, 1, 0), True), ((2, 2, 1, 0), False)],
)
def test_handshakes_fail_on_other_counts(counts: tuple[int, int, int, int], early: bool) -> None:
    assert not all(handshakes.holds(handshake_paths(counts, early)).values())


def row(request: str, status: int, early: bool) -> dict[str, Any]:
    return {"request": request, "status": status, "early_data": early, "port": "1"}


GOOD_0RTT = {
    "original": [row("GET /whoami", 200, True), row("POST /orders", 425, True),
                 row("POST /orders", 201, False)],
    "replay": [row("GET /whoami", 200, True), row("POST /orders", 425, True)],
}  # fmt: skip


def test_zero_rtt_holds_when_the_replay_is_refused() -> None:
    assert all(zero_rtt.holds({"early_data_accepted": True}, GOOD_0RTT).values())


@pytest.mark.parametrize(
    ("side", "index", "status", "early"),
    [
        ("original", 1, 201, True),  # a POST in early data ran
        ("replay", 1, 201, True),  # the replay placed a second order
        ("original", 0, 200, False),  # the GET was not in early data
    ],
)
def test_zero_rtt_fails_when_early_data_runs_a_post(
    side: str, index: int, status: int, early: bool
) -> None:
    nginx = copy.deepcopy(GOOD_0RTT)
    nginx[side][index] = row(nginx[side][index]["request"], status, early)
    assert not all(zero_rtt.holds({"early_data_accepted": True}, nginx).values())


def test_zero_rtt_fails_when_early_data_was_not_accepted() -> None:
    assert not all(zero_rtt.holds({"early_data_accepted": False}, GOOD_0RTT).values())


def hol(slow: float, fast: list[float]) -> dict[str, Any]:
    return {"slow_done_ms": slow, "fast_done_ms": fast, "statuses": [200]}


def test_head_of_line_holds_when_only_http1_waits() -> None:
    clients = {name: hol(810, [60] * 5) for name in head_of_line.CLIENTS}
    clients["HTTP/1.1, 1 connection"] = hol(810, [815] * 5)
    assert all(head_of_line.holds(clients).values())


def test_head_of_line_fails_when_http2_waits_or_http1_does_not() -> None:
    waiting = {name: hol(810, [815] * 5) for name in head_of_line.CLIENTS}
    assert not all(head_of_line.holds(waiting).values())
    quick = {name: hol(810, [60] * 5) for name in head_of_line.CLIENTS}
    assert not all(head_of_line.holds(quick).values())


def tcp_udp_parts(udp_lost: int, drops: int, tcp_received: int, tcp_reads: int) -> dict[str, Any]:
    burst = tcp_udp.BURST
    return {
        "boundaries": {"writes": 20, "UDP": {"reads": 20, "each_whole": True},
                       "TCP": {"reads": tcp_reads, "each_whole": False, "bytes_back": True}},
        "burst": {
            "UDP": {"lost": udp_lost, "dropped_by_kernel": {"echo": {"Udp.RcvbufErrors": drops}}},
            "TCP": {"received": tcp_received, "lost": burst - tcp_received, "duplicated": 0,
                    "reordered": 0},
        },
    }  # fmt: skip


def test_tcp_udp_holds_for_the_contrast() -> None:
    assert all(tcp_udp.holds(tcp_udp_parts(1900, 1900, tcp_udp.BURST, 1)).values())


@pytest.mark.parametrize(
    "parts",
    [
        tcp_udp_parts(0, 0, tcp_udp.BURST, 1),  # UDP lost nothing
        tcp_udp_parts(1900, 10, tcp_udp.BURST, 1),  # losses no kernel counted
        tcp_udp_parts(1900, 1900, tcp_udp.BURST - 1, 1),  # TCP lost one
        tcp_udp_parts(1900, 1900, tcp_udp.BURST, 20),  # TCP reads matched the writes
    ],
)
def test_tcp_udp_fails_without_the_contrast(parts: dict[str, Any]) -> None:
    assert not all(tcp_udp.holds(parts).values())


def test_delivery_counts_lost_duplicated_and_reordered() -> None:
    received = [0, 2, 1, 2, *range(3, tcp_udp.BURST - 1)]
    counted = tcp_udp.delivery(received)
    assert (counted["lost"], counted["duplicated"], counted["reordered"]) == (1, 1, 1)
    assert tcp_udp.sequences(tcp_udp.message(7) + tcp_udp.message(9)) == [7, 9]


def good_refusals() -> dict[str, Any]:
    bad = {"status": 400, "reset": None, "same_connection_then": 200}
    return {
        "garbage": {"answers": 1, "answers_that_are_stateless_resets": 1,
                    "connected_client_then": 200},
        "no_common_version": {"server_offers": ["0x00000001"], "then": 200},
        "bad_headers": {"uppercase": dict(bad), "no path": dict(bad)},
        "proxy_restarted": False,
        "fresh_client_then": 200,
    }  # fmt: skip


def test_refusals_hold_for_defined_answers() -> None:
    assert all(refusals.holds(good_refusals()).values())


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("garbage", "answers_that_are_stateless_resets"), 0),  # answered with something else
        (("no_common_version", "server_offers"), None),  # no version negotiation
        (("bad_headers", "uppercase", "status"), 200),  # invalid headers served
        (("bad_headers", "no path", "same_connection_then"), None),  # the connection died
        (("proxy_restarted",), True),
    ],
)
def test_refusals_fail_on_a_bad_outcome(path: tuple[str, ...], value: Any) -> None:
    outcome = good_refusals()
    target = outcome
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert not all(refusals.holds(outcome).values())


def test_version_negotiation_is_parsed_only_when_it_answers_our_id() -> None:
    scid = b"\x01" * 8
    packet = b"\x80" + bytes(4) + b"\x08" + scid + b"\x08" + b"\x02" * 8 + struct.pack("!I", 1)
    assert refusals.parse_version_negotiation(packet, scid) == [1]
    assert refusals.parse_version_negotiation(packet, b"\x03" * 8) is None
    assert refusals.parse_version_negotiation(b"\x40" + packet[1:], scid) is None


def test_kernel_counters_parse_header_and_value_lines() -> None:
    text = "Ip: Forwarding DefaultTTL\nIp: 1 64\nUdp: InDatagrams RcvbufErrors\nUdp: 10 -3\n"
    assert kernel_counters.parse(text) == {
        "Ip.Forwarding": 1, "Ip.DefaultTTL": 64, "Udp.InDatagrams": 10, "Udp.RcvbufErrors": -3,
    }  # fmt: skip
    before, after = {"Udp.RcvbufErrors": 2}, {"Udp.RcvbufErrors": 7}
    assert kernel_counters.delta(before, after, ("Udp.RcvbufErrors",)) == {"Udp.RcvbufErrors": 5}
