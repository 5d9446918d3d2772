"""Round trips counted from packets, and the lesson's verdicts, fed made-up captures (no Docker).

Each sequence is what the protocol sends (RFC 5246, RFC 8446, RFC 9000/9001),
written as packets the way tshark dissects them; each verdict is also fed a
capture that disagrees with it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sandbox.wire.v1 import basket_pb2

from comms_sandbox.capture import Packet
from scenarios import on_the_wire
from scenarios.on_the_wire import connections, corners, ladder, nagle, reading, ways

CLIENT, PROXY = ("172.18.0.1", 40000), ("172.18.0.5", 8443)


class Flow:
    """Packets of one connection, 1 ms apart, written from the client's side."""

    def __init__(self, transport: str = "tcp") -> None:
        self.transport = transport
        self.packets: list[Packet] = []

    def send(self, up: bool, **fields: Any) -> Flow:
        src, dst = (CLIENT, PROXY) if up else (PROXY, CLIENT)
        n = len(self.packets) + 1
        self.packets.append(Packet(number=n, time=1000.0 + n / 1000, src=src[0], dst=dst[0],
                                   sport=src[1], dport=dst[1], transport=self.transport,
                                   stream=0, **fields))  # fmt: skip
        return self

    def up(self, **fields: Any) -> Flow:
        return self.send(True, **fields)

    def down(self, **fields: Any) -> Flow:
        return self.send(False, **fields)

    def tcp_open(self, data_in_syn: int = 0) -> Flow:
        return self.up(flags="S", payload=data_in_syn).down(flags="SA").up(flags="A")

    def counted(self) -> dict[str, Any]:
        return connections.round_trips(connections.connections(self.packets)[0])


def record(types: list[int], handshake: list[int] | None = None, size: int = 100) -> dict[str, Any]:
    return {"flags": "PA", "payload": size, "tls_content": types, "tls_handshake": handshake or []}


APP = 23


def tls12_full() -> Flow:
    return (Flow().tcp_open().up(**record([22], [1])).down(**record([22], [2, 11, 12, 14]))
            .up(flags="A").up(**record([22, 20, 22], [16, 20])).down(**record([20, 22], [20]))
            .up(**record([APP])).down(flags="A").down(**record([APP])))  # fmt: skip


def tls12_resumed() -> Flow:
    return (Flow().tcp_open().up(**record([22], [1])).down(**record([22, 20, 22], [2, 20]))
            .up(**record([20, 22], [20])).up(**record([APP])).down(**record([APP])))  # fmt: skip


def tls13(ticket_first: bool = True) -> Flow:
    flow = (Flow().tcp_open().up(**record([22], [1]))
            .down(**record([22, 20, 22, 22, 22, 22], [2, 8, 11, 15, 20]))
            .up(**record([20, 22], [20])).up(**record([APP])))  # fmt: skip
    if ticket_first:  # the server's session ticket, sent before the answer
        flow.down(**record([22], [4]))
    return flow.down(**record([APP]))


def tls13_early() -> Flow:
    # The GET in early data beside the ClientHello; the answer once nginx has it whole.
    return (Flow().tcp_open().up(**record([22, APP], [1]))
            .down(**record([22, 20, 22, 22], [2, 8, 20])).up(**record([22, 22], [5, 20]))
            .down(**record([22], [4])).down(**record([APP])))  # fmt: skip


def quic(zero_rtt: bool = False, refused: bool = False) -> Flow:
    flow = Flow("udp")
    if zero_rtt:
        flow.up(payload=1200, quic_long=[0, 1], quic_frames=[6, 8], quic_streams=[0])
    else:
        flow.up(payload=1200, quic_long=[0], quic_frames=[6, 0])
    flow.down(payload=1200, quic_long=[0, 2], quic_frames=[2, 6, 6])
    flow.down(payload=900, quic_long=[2], quic_frames=[6])  # the rest of the certificate
    flow.up(payload=50, quic_long=[0], quic_frames=[2])  # an ACK: asks for nothing
    if not zero_rtt or refused:
        flow.up(payload=300, quic_long=[2], quic_frames=[2, 6, 8], quic_streams=[2, 0])
    flow.down(payload=80, quic_frames=[0x1E, 0x18, 8], quic_streams=[3])  # settings, control
    return flow.down(payload=200, quic_frames=[2, 9], quic_streams=[0])


@pytest.mark.parametrize(
    ("flow", "before_request", "before_answer"),
    [(tls12_full, 3, 4), (tls12_resumed, 2, 3), (tls13, 2, 3),
     (lambda: tls13(ticket_first=False), 2, 3), (tls13_early, 1, 2), (quic, 1, 2),
     (lambda: quic(zero_rtt=True), 0, 1), (lambda: quic(zero_rtt=True, refused=True), 0, 2)],
)  # fmt: skip
def test_round_trips_are_counted_from_the_packets(
    flow: Any, before_request: int, before_answer: int
) -> None:
    counted = flow().counted()
    assert (counted["before_request"], counted["before_answer"]) == (before_request, before_answer)
    assert 0 <= counted["request_s"] < counted["answer_s"]


def test_what_a_server_sends_unasked_before_the_request_ends_no_wait() -> None:
    # Seen at the proxy (ci, TLS 1.3 resumed): the session ticket overtook the request
    # that the client wrote right after its Finished; and over QUIC, HANDSHAKE_DONE,
    # new connection ids and HTTP/3's settings on the server's own streams did.
    tcp = (Flow().tcp_open().up(**record([22], [1])).down(**record([22, 20, 22, 22], [2, 8, 20]))
           .up(**record([20, 22], [20])).down(**record([22], [4]))
           .up(**record([APP])).down(**record([APP])))  # fmt: skip
    assert tcp.counted()["before_request"] == 2
    flow = Flow("udp").up(payload=1200, quic_long=[0], quic_frames=[6], tls_handshake=[1])
    flow.down(payload=1200, quic_long=[0, 2], quic_frames=[2, 6, 6], tls_handshake=[2, 8, 20])
    flow.up(payload=300, quic_long=[0, 2], quic_frames=[2, 6], tls_handshake=[20])
    flow.down(payload=400, quic_frames=[2, 6, 0x1E, 0x18, 0x0E], quic_streams=[3, 7],
              tls_handshake=[4, 4])  # fmt: skip
    flow.up(payload=68, quic_frames=[0x0B], quic_streams=[0])
    flow.down(payload=499, quic_frames=[2, 0x0E, 0x0F], quic_streams=[0, 0])
    assert (flow.counted()["before_request"], flow.counted()["before_answer"]) == (1, 2)


def test_a_server_flight_that_only_looks_like_housekeeping_still_ends_a_wait() -> None:
    # A ServerHello in the same packet as a ticket is an answer: the rule is "only".
    packet = tls13().packets[4]
    packet.tls_handshake = [2, 4]
    assert not connections.unasked(packet)
    handshake = quic().packets[1]  # Initial + Handshake: never housekeeping
    handshake.tls_handshake = [4]
    assert not connections.unasked(handshake)


def test_a_tls13_finished_is_not_taken_for_the_request_when_decrypted() -> None:
    # Undecrypted, every TLS 1.3 record after the ServerHello says 23 on the outside.
    flow = (Flow().tcp_open().up(**record([22], [1])).down(**record([22, 23]))
            .up(**record([23])).up(**record([APP])).down(**record([APP])))  # fmt: skip
    assert flow.counted()["before_request"] == 2
    decrypted = tls13()
    assert decrypted.counted()["before_request"] == 2
    assert decrypted.packets[5].tls_content == [20, 22]  # the Finished: not the request


def test_data_in_the_syn_saves_the_first_round_trip() -> None:
    # TCP Fast Open: the ClientHello rides in the SYN.
    flow = (Flow().tcp_open(data_in_syn=300).down(**record([22], [2, 8, 11, 15, 20]))
            .up(**record([20, 22], [20])).up(**record([APP])).down(**record([APP])))  # fmt: skip
    flow.packets[0].tls_handshake = [1]
    assert flow.counted()["before_request"] == 1
    assert on_the_wire.client_hello_in_syn(connections.connections(flow.packets)[0])
    assert ladder.label(flow.packets[0]) == "SYN + ClientHello"
    assert not on_the_wire.client_hello_in_syn(connections.connections(tls13().packets)[0])


def test_a_capture_without_the_request_counts_nothing() -> None:
    counted = Flow().tcp_open().up(**record([22], [1])).counted()
    assert counted == {"before_request": None, "before_answer": None, "request_s": None,
                       "answer_s": None}  # fmt: skip


def test_the_opener_is_whoever_sent_the_first_syn() -> None:
    flow = tls13()
    flow.packets.reverse()  # arrival order does not matter: sorted by time
    found = connections.connections(flow.packets)[0]
    assert (found.client, found.server) == (CLIENT, PROXY)


def rows(**changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    made = {}
    for way in ways.WAYS:
        made[way.name] = {
            "expected_before_request": way.expected_before_request,
            "before_request": way.expected_before_request,
            "expected_before_answer": way.expected_before_answer,
            "before_answer": way.expected_before_answer,
            "resumed": "resumed" in way.name or "0-RTT" in way.name,
            "early_data": "0-RTT" in way.name,
            "client_hello_in_syn": way.name == ways.FASTOPEN,
            "fastopen_passive": int(way.name == ways.FASTOPEN),
        }
    for name, change in changes.items():
        made[name.replace("_", " ")] |= change
    return made


def test_every_verdict_holds_on_a_capture_that_agrees() -> None:
    assert all(on_the_wire.holds(rows()).values())


def assert_only_failure(checks: dict[str, bool], failing: str) -> None:
    """Exactly one check failed, the one starting with `failing`."""
    failed = [check for check, ok in checks.items() if not ok]
    assert len(failed) == 1 and failed[0].startswith(failing), failed


def test_ladder_labels_name_flags_handshake_messages_and_quic_packets() -> None:
    flow = tls12_full()
    assert [ladder.label(p) for p in flow.packets[:5]] == [
        "SYN", "SYN-ACK", "ACK", "ClientHello",
        "ServerHello, Certificate, ServerKeyExchange, ServerHelloDone",
    ]  # fmt: skip
    zero = quic(zero_rtt=True).packets[0]
    assert ladder.label(zero) == "Initial+0-RTT (1200 B)"


def test_a_ladder_marks_the_first_request_and_answer_bytes_only() -> None:
    flow = tls13()
    found = connections.connections(flow.packets)[0]
    drawn = ladder.arrows(found)
    marked = [(start, end, text) for start, end, text, _, is_marked in drawn if is_marked]
    assert [(s, e) for s, e, _ in marked] == [(0, 1), (1, 0)]
    assert marked[0][2].startswith("request begins") and marked[1][2].startswith("answer begins")


def test_a_ladder_keeps_its_marks_when_other_packets_fill_it() -> None:
    # ci-34: the other lane's packets to the api filled the 40 arrows before QUIC's answer.
    flow = tls13()
    found = connections.connections(flow.packets)[0]
    answer = max(p.time for p in found.packets)
    crowd = [Packet(number=1000 + n, time=found.started + answer * n / 100, src="172.18.0.5",
                    sport=50000, dst="172.18.0.9", dport=8000, transport="tcp", stream=99,
                    flags="A") for n in range(80)]  # fmt: skip
    drawn = ladder.arrows(found, crowd)
    assert len(drawn) == ladder.MAX_ARROWS
    assert [text.split(":")[0] for _, _, text, _, is_marked in drawn if is_marked] == [
        "request begins", "answer begins"]  # fmt: skip


def test_projected_ttfb_is_round_trips_times_the_rtt() -> None:
    assert connections.projected_ttfb_ms(3, 50.0) == 150.0


def nagle_cases(**changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the four Nagle cases give when the kernels behave as documented."""
    made = {}
    for case in nagle.CASES:
        client_nagle, server_nagle = case.startswith("client Nagle"), case.endswith("server Nagle")
        made[case] = {
            "server_delayed_acks": nagle.REQUESTS - 1 if client_nagle else 0,
            "client_delayed_acks": nagle.REQUESTS - 1 if server_nagle else 0,
            "capture": {"median_gap_between_writes_ms": 44.0 if client_nagle else 0.05},
        }
    return made


def test_every_nagle_verdict_holds_when_each_kernel_delays_where_it_should() -> None:
    assert all(nagle.holds(nagle_cases()).values())


FASTOPEN_CHECK = f"{ways.FASTOPEN}: its SYN alone"
HTTPS_FAILURES = [("TCP + TLS 1.2", {"before_request": 2}, "TCP + TLS 1.2: 3 round trips"),
     ("TCP + TLS 1.3", {"before_answer": None}, "TCP + TLS 1.3: 2 round trips"),
     ("QUIC 0-RTT", {"before_request": 1}, "QUIC 0-RTT: 0 round trips"),
     ("QUIC 0-RTT", {"early_data": False}, "QUIC 0-RTT: the server took the early data"),
     ("TCP + TLS 1.3 0-RTT", {"early_data": False}, "TCP + TLS 1.3 0-RTT: the server took"),
     ("TCP + TLS 1.3 0-RTT", {"before_request": 2}, "TCP + TLS 1.3 0-RTT: 1 round trips"),
     ("TCP + TLS 1.2 resumed", {"resumed": False}, "the resumed ones resumed"),
     ("QUIC", {"resumed": True}, "the resumed ones resumed"),
     (ways.FASTOPEN, {"client_hello_in_syn": False}, FASTOPEN_CHECK),
     (ways.FASTOPEN, {"fastopen_passive": 0}, FASTOPEN_CHECK),
     ("TCP + TLS 1.3", {"client_hello_in_syn": True}, FASTOPEN_CHECK)]  # fmt: skip
NAGLE_FAILURES = [("client Nagle, server TCP_NODELAY", {"server_delayed_acks": 0},
      "client Nagle, server TCP_NODELAY: the server's kernel"),
     ("client TCP_NODELAY, server TCP_NODELAY", {"client_delayed_acks": 30},
      "client TCP_NODELAY, server TCP_NODELAY: the client's kernel"),
     ("client Nagle, server Nagle", {"capture": {"median_gap_between_writes_ms": 0.1}},
      "client Nagle, server Nagle: the capture"),
     ("client TCP_NODELAY, server Nagle", {"capture": {"median_gap_between_writes_ms": 41.0}},
      "client TCP_NODELAY, server Nagle: the capture"),
     ("client TCP_NODELAY, server Nagle", {"capture": {}},
      "client TCP_NODELAY, server Nagle: the capture")]  # fmt: skip


@pytest.mark.parametrize(
    ("part", "key", "change", "failing"),
    [("https", *case) for case in HTTPS_FAILURES] + [("nagle", *case) for case in NAGLE_FAILURES],
)
def test_each_verdict_fails_when_its_evidence_disagrees(
    part: str, key: str, change: dict[str, Any], failing: str
) -> None:
    """One way's or case's evidence changed: exactly its own verdict fails."""
    made, judge = (rows(), on_the_wire.holds) if part == "https" else (nagle_cases(), nagle.holds)
    made[key] |= change
    assert_only_failure(judge(made), failing)


def test_the_capture_measures_the_wait_between_a_requests_two_segments() -> None:
    flow = Flow().tcp_open()
    steps = [0.0001, 0.0001, 0.0001]  # the handshake
    for _ in range(3):  # the second write leaves once the first is ACKed, 40 ms later
        flow.up(flags="PA", payload=7).down(flags="A").up(flags="PA", payload=1)
        flow.down(flags="PA", payload=5).down(flags="PA", payload=6)
        steps += [0.0001, 0.040, 0.0001, 0.0001, 0.0001]
    clock = 1000.0
    for packet, step in zip(flow.packets, steps, strict=True):
        clock += step
        packet.time = clock
    seen = nagle.from_capture(connections.connections(flow.packets)[0])
    assert seen["client_data_segments"] == 6
    assert seen["server_bare_acks"] == 3
    assert 40 <= seen["median_gap_between_writes_ms"] < 41


def corners_measured() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """What the kernel reports when TIME_WAIT and fragmentation behave as documented."""
    ports = {"connections_made": 10, "error": "EADDRNOTAVAIL", "time_wait": 10,
             "port_range": [40000, 40009]}  # fmt: skip
    sent = {str(size): {"size": size, "datagrams": 10, "mtu": 1500,
                        "fragments_created": 30 if size == 3000 else 0}
            for size in (1200, 3000)}  # fmt: skip
    return ports, sent


def test_every_corner_verdict_holds_on_what_the_kernel_documents() -> None:
    assert all(corners.holds(*corners_measured()).values())


@pytest.mark.parametrize(
    ("where", "change", "failing"),
    [("ports", {"error": "ECONNREFUSED"}, "TIME_WAIT held every port"),
     ("ports", {"connections_made": 30, "error": None}, "TIME_WAIT held every port"),
     ("ports", {"time_wait": 0}, "the kernel lists"),
     ("1200", {"fragments_created": 10}, "a 1200-byte datagram"),
     ("3000", {"fragments_created": 0}, "a 3000-byte datagram leaves as 3 fragments")],
)  # fmt: skip
def test_each_corner_verdict_fails_when_the_kernel_disagrees(
    where: str, change: dict[str, Any], failing: str
) -> None:
    ports, sent = corners_measured()
    (ports if where == "ports" else sent[where]).update(change)
    assert_only_failure(corners.holds(ports, sent), failing)


def test_two_writes_that_left_as_one_segment_count_as_no_wait() -> None:
    # On a busy machine the second write can join the first before it leaves.
    flow = Flow().tcp_open()
    for _ in range(3):
        flow.up(flags="PA", payload=8).down(flags="PA", payload=5).down(flags="PA", payload=6)
    seen = nagle.from_capture(connections.connections(flow.packets)[0])
    assert seen["client_data_segments"] == 3
    assert seen["median_gap_between_writes_ms"] == 0.0


def test_a_retransmitted_segment_moves_one_requests_gap_not_the_median() -> None:
    # Seen in a clean-clone run (client TCP_NODELAY, server Nagle): 85 data segments for
    # 40 requests; paired two by two, every gap after the first resend was an answer's wait.
    flow = Flow().tcp_open()
    for n in range(3):
        flow.up(flags="PA", payload=7).up(flags="PA", payload=1)
        if n == 0:
            flow.up(flags="PA", payload=1)  # the second write again (its ACK was late)
        flow.down(flags="PA", payload=5).down(flags="PA", payload=6)
    seen = nagle.from_capture(connections.connections(flow.packets)[0])
    assert seen["client_data_segments"] == 7
    assert seen["median_gap_between_writes_ms"] == 1.0  # 1 ms apart in these made-up packets


def reading_measured() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """What the api and nginx report when reading costs what the page says."""
    rows = {}
    for size, (json_bytes, _) in reading.SIZES.items():
        for kind, share in (("json", 1.0), ("protobuf", 0.4)):
            body = int(json_bytes * share)
            rows[f"{kind} {size}"] = {
                "statuses": [200], "read_whole": True, "body_bytes": body,
                "request_bytes_on_wire": body + 250,
                "decode_us": json_bytes / (100 if kind == "json" else 1000),
            }  # fmt: skip
    refused = {name: {"status": status, "expected": status, "detail": "why"}
               for name, status in reading.REFUSALS.items()}  # fmt: skip
    return rows, refused


def test_every_reading_verdict_holds_on_what_the_api_and_nginx_report() -> None:
    assert all(reading.holds(*reading_measured()).values())


@pytest.mark.parametrize(
    ("case", "change", "failing"),
    [("json 64 KiB", {"statuses": [200, 502]}, "every body answered 200"),
     ("protobuf 1 KiB", {"read_whole": False}, "every body answered 200"),
     ("protobuf 64 KiB", {"request_bytes_on_wire": 70_000}, "protobuf is fewer bytes"),
     ("protobuf 1 MiB", {"decode_us": 20_000}, "decoding the 1 MiB basket"),
     ("json 1 KiB", {"decode_us": 20_000}, "decoding costs more CPU as the body grows")],
)  # fmt: skip
def test_each_reading_verdict_fails_when_the_measure_disagrees(
    case: str, change: dict[str, Any], failing: str
) -> None:
    rows, refused = reading_measured()
    rows[case].update(change)
    assert_only_failure(reading.holds(rows, refused), failing)


@pytest.mark.parametrize("change", [{"status": 500}, {"detail": None}])
def test_a_bad_body_without_its_4xx_and_reason_fails(change: dict[str, Any]) -> None:
    rows, refused = reading_measured()
    refused["a truncated protobuf"].update(change)
    assert_only_failure(reading.holds(rows, refused), "every bad body got its 4xx")


def test_a_basket_fills_its_json_size_and_protobuf_carries_the_same_items() -> None:
    items = reading.basket(64 * 1024)
    bodies = reading.encoded(items)
    assert 64 * 1024 - 200 < len(bodies["json"]) <= 64 * 1024
    assert len(basket_pb2.Basket.FromString(bodies["protobuf"]).items) == len(items)


def test_server_timing_is_read_as_milliseconds_per_stage() -> None:
    header = "read;dur=0.049, decode;dur=0.112, validate;dur=0.080, handle;dur=0.007"
    assert reading.server_timing(header) == {"read": 0.049, "decode": 0.112,
                                             "validate": 0.08, "handle": 0.007}  # fmt: skip


def test_each_way_takes_its_own_connection_not_another_clients(tmp_path: Any) -> None:
    # The other test lane's connections to 8443 land in the capture too (ci-31): a way
    # takes the last connection of its window whose ClientHello random is in the key log.
    ours, theirs = tls13(), tls13()
    for flow, random, start in ((ours, "aa" * 32, 10.0), (theirs, "bb" * 32, 20.0)):
        flow.packets[3].tls_random = [random]  # the ClientHello
        for packet in flow.packets:
            packet.time += start
            packet.stream = int(start)
    keylog = tmp_path / "keys.log"
    keylog.write_text(f"# comment\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {'aa' * 32} {'cc' * 32}\n")
    found = connections.connections([*ours.packets, *theirs.packets])
    names = [way.name for way in ways.WAYS]
    clients = {name: {"started": 1005.0 if n <= names.index("TCP + TLS 1.3") else 1100.0}
               for n, name in enumerate(names)}  # its window: 1005 s to 1100 s  # fmt: skip
    chosen = on_the_wire.each_ways_connection(clients, found, on_the_wire.logged_randoms(keylog))
    assert chosen["TCP + TLS 1.3"].client_randoms == {"aa" * 32}
    assert on_the_wire.each_ways_connection(clients, found)["TCP + TLS 1.3"].started >= 1020
