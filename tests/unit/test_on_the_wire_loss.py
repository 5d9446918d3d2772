"""Loss and head-of-line blocking: the client's own parsing (stamps, netlink, rules) and the
lesson's verdicts, fed made-up runs that agree and runs that disagree (no Docker)."""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest
from wire import loss as client
from wire import nfqueue

from scenarios.on_the_wire import loss
from scenarios.result import outcome

EVERY = loss.SIZE // loss.CHUNK


def streams(held: dict[int, list[int]]) -> list[list[list[float]]]:
    """STREAMS paced streams whose writes take 2 ms, except those sent in the 40 ms windows
    `held` names per stream (window k: sent from k * 1000 ms on), which take 45 ms."""
    made = []
    for n in range(loss.STREAMS):
        stream = []
        for k in range(EVERY):
            sent = k * loss.EVERY_MS + n * 6.0
            late = any(w * 1000 <= sent < w * 1000 + 40 for w in held.get(n, []))
            stream.append([sent, 45.0 if late else 2.0])
        made.append(stream)
    return made


ALL_STREAMS = {n: [1, 2] for n in range(loss.STREAMS)}  # two losses, every stream held
ONE_STREAM = {2: [1], 4: [2]}  # two losses, one stream held each
HALF = {n: [1] for n in range(loss.STREAMS)} | {2: [1, 2]}  # the second loss holds one stream


def measured(
    h2: dict[int, list[int]] = ALL_STREAMS,
    h3: dict[int, list[int]] = ONE_STREAM,
    clean: dict[int, list[int]] | None = None,
) -> dict[str, Any]:
    runs = {
        loss.WITHOUT: {p: {"protocol": p, "streams": streams(clean or {})} for p in loss.PROTOCOLS},
        loss.WITH: {"HTTP/2": {"protocol": "HTTP/2", "streams": streams(h2)},
                    "HTTP/3": {"protocol": "HTTP/3", "streams": streams(h3)}},
    }  # fmt: skip
    return {
        "settings": {"loss": loss.LOSS},
        "runs": {c: {p: loss.summary(r) for p, r in by.items()} for c, by in runs.items()},
        "dropped": {"tcp": 4, "udp": 3},
        "proxy_tcp_retransmissions": 5,
        "rules_left": 0,
        "streams": {p: runs[loss.WITH][p]["streams"] for p in loss.PROTOCOLS},
    }


def outcomes(result: dict[str, Any]) -> dict[str, str]:
    return {check: outcome(value) for check, value in loss.holds(result).items()}


def test_every_loss_verdict_holds_when_http2_holds_all_streams_and_http3_one() -> None:
    assert set(outcomes(measured()).values()) == {"holds"}


def test_a_stall_counts_the_other_streams_sending_meanwhile_and_those_held() -> None:
    summary = measured()["runs"][loss.WITH]
    # Over HTTP/2 stream 1's write at 1000 ms is the first late one: the five others sent
    # before it arrived, and waited with it. Over HTTP/3 the five others arrived as usual.
    h2 = [
        (e["stream"], e["others_held"], e["others_sending"])
        for e in summary["HTTP/2"]["event_list"]
    ]
    h3 = [
        (e["stream"], e["others_held"], e["others_sending"])
        for e in summary["HTTP/3"]["event_list"]
    ]
    assert h2 == [(0, 5, 5), (0, 5, 5)] and summary["HTTP/2"]["together_share"] == 1.0
    assert h3 == [(2, 0, 5), (4, 0, 5)] and summary["HTTP/3"]["together_share"] == 0.0


@pytest.mark.parametrize(
    ("change", "failing"),
    [({"dropped": {"tcp": 4, "udp": 0}}, "the drop rules dropped"),
     ({"proxy_tcp_retransmissions": 0}, "the proxy sent TCP segments again"),
     ({"rules_left": 1}, "no rule left"),
     ({"h2": HALF}, "HTTP/2: a lost packet held back every stream"),
     ({"h3": ALL_STREAMS}, "HTTP/3: fewer stalls held every other stream"),
     ({"h2": {}}, "HTTP/2: a lost packet held back every stream")],
)  # fmt: skip
def test_each_loss_verdict_fails_when_the_measure_disagrees(
    change: dict[str, Any], failing: str
) -> None:
    streams_changed = {k: v for k, v in change.items() if k in ("h2", "h3")}
    result = measured(**streams_changed)
    result.update({k: v for k, v in change.items() if k not in ("h2", "h3")})
    failed = [check for check, said in outcomes(result).items() if said == "fails"]
    assert len(failed) == 1 and failed[0].startswith(failing), failed


def test_a_missing_write_fails_every_byte() -> None:
    result = measured()
    result["runs"][loss.WITH]["HTTP/3"]["writes"][0] -= 1
    failed = [check for check, said in outcomes(result).items() if said == "fails"]
    assert failed == ["every stream got every write, with loss and without"]


def test_writes_late_without_loss_leave_the_head_of_line_verdicts_not_shown() -> None:
    busy = measured(h3=ALL_STREAMS, clean={n: [1, 2, 3, 4] for n in range(loss.STREAMS)})
    said = outcomes(busy)
    assert [c for c, s in said.items() if s == "not shown"] == [
        c for c in said if c.startswith(("HTTP/2:", "HTTP/3:"))
    ]
    assert "fails" not in said.values()


def test_each_write_is_timed_by_the_piece_that_completed_its_stamp() -> None:
    t0 = 1_000_000_000
    stamps = [t0 + 5_000_000, t0 + 45_000_000]
    body = b"".join(s.to_bytes(8, "big") + b"x" * 8 for s in stamps)  # two writes of 16 bytes
    arrivals = [(t0 + 6_000_000, 12), (t0 + 90_000_000, 32)]  # the second stamp came late
    assert client.writes_of(body, arrivals, 16, t0) == [[5.0, 1.0], [45.0, 45.0]]


def test_the_drop_rules_exist_only_with_loss_and_match_the_servers_port() -> None:
    assert [rule[0] for rule in client.rules(8443, 0.0)] == ["OUTPUT", "OUTPUT"]
    lossy = client.rules(8443, 0.03)
    drops = [rule for rule in lossy if rule[0] == "INPUT"]
    assert len(drops) == 2 and all("--sport" in r and "0.0300" in r for r in drops)


def test_a_queued_packet_message_gives_its_id_and_a_verdict_names_it() -> None:
    header = nfqueue.attribute(nfqueue.PACKET_HDR, struct.pack("!IHB", 77, 0x0800, 3))
    announced = nfqueue.message(nfqueue.MSG_PACKET, 7, [header])
    assert list(nfqueue.packet_ids(announced)) == [77]
    verdict = nfqueue.message(nfqueue.MSG_VERDICT, 7, [nfqueue.attribute(
        nfqueue.VERDICT_HDR, struct.pack("!II", nfqueue.NF_ACCEPT, 77))])  # fmt: skip
    assert struct.unpack_from("!H", verdict, 18) == (7,)  # the queue, in network order
    assert verdict[-8:] == struct.pack("!II", 1, 77)
    assert verdict[16] == socket.AF_UNSPEC


def test_an_error_answer_from_the_kernel_is_raised() -> None:
    error = struct.pack("=IHHII", 36, nfqueue.NLMSG_ERROR, 0, 0, 0) + struct.pack("=i", -1)
    with pytest.raises(OSError):
        list(nfqueue.packet_ids(error + b"\0" * 16))
