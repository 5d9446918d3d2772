"""comms_sandbox/capture.py without Docker: dumpcap's and tshark's arguments, lines read."""

from __future__ import annotations

from comms_sandbox import capture


def line(**values: str) -> str:
    return "\t".join(values.get(name.replace(".", "_"), "") for name in capture.FIELDS)


def parsed(**values: str) -> capture.Packet:
    """The one packet a tshark line of `values` (FIELDS, dots as underscores) makes."""
    (packet,) = capture.parse_fields(line(frame_number="1", ip_src="172.18.0.1",
                                          ip_dst="172.18.0.5", **values))  # fmt: skip
    return packet


def test_dumpcap_writes_pcapng_to_stdout_within_limits() -> None:
    args = capture.dumpcap_args(capture_filter="tcp port 8443")
    assert args[-2:] == ["-w", "-"]
    assert ["-a", f"filesize:{capture.MAX_FILE_KIB}"] == args[3:5]
    assert ["-a", f"duration:{capture.MAX_SECONDS}"] == args[5:7]
    assert args[7:9] == ["-f", "tcp port 8443"]
    assert "-f" not in capture.dumpcap_args()


def test_tshark_reads_with_the_key_log_only_when_there_is_one() -> None:
    with_keys = capture.tshark_args("/results/x.pcapng", "/results/keys.log")
    assert with_keys[:5] == ["-r", "/results/x.pcapng", "-n", "-o",
                             "tls.keylog_file:/results/keys.log"]  # fmt: skip
    assert "-o" not in capture.tshark_args("/results/x.pcapng", None)
    assert with_keys.count("-e") == len(capture.FIELDS)


def test_a_tcp_line_with_two_tls_records_is_read_whole() -> None:
    packet = parsed(frame_time_epoch="1765091234.123456", tcp_srcport="40000",
                    tcp_dstport="8443", tcp_stream="3", tcp_flags="0x0018", tcp_len="517",
                    tls_handshake_type="16,20", tls_record_content_type="22,20,22")  # fmt: skip
    assert (packet.number, packet.stream, packet.transport) == (1, 3, "tcp")
    assert packet.endpoints == (("172.18.0.1", 40000), ("172.18.0.5", 8443))
    assert (packet.flags, packet.payload) == ("PA", 517)
    assert packet.tls_handshake == [16, 20] and packet.tls_content == [22, 20, 22]


def test_a_quic_line_keeps_its_packet_types_frames_and_streams() -> None:
    packet = parsed(frame_time_epoch="1.5", udp_srcport="50000", udp_dstport="8443",
                    udp_stream="0", udp_length="1208", quic_long_packet_type="0,1",
                    quic_frame_type="6,8", quic_stream_stream_id="0")  # fmt: skip
    assert (packet.transport, packet.payload, packet.flags) == ("udp", 1200, "")
    assert packet.quic_long == [0, 1] and packet.quic_frames == [6, 8]
    assert packet.quic_streams == [0]


def test_frames_without_ipv4_tcp_or_udp_are_left_out() -> None:
    arp = line(frame_number="1", frame_time_epoch="1.0")
    icmp = line(frame_number="2", frame_time_epoch="1.1", ip_src="10.0.0.1", ip_dst="10.0.0.2")
    assert capture.parse_fields(f"{arp}\n{icmp}\n") == []


def test_flags_are_letters_in_a_fixed_order() -> None:
    assert capture.flag_letters(0x012) == "SA"
    assert capture.flag_letters(0x011) == "FA"
    assert capture.flag_letters(0x004) == "R"
