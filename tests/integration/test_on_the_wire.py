"""On the wire, on the real stack: dumpcap in the proxy's namespace, tshark with the key log.

The scenario runs once for the module (a few seconds): eight ways to HTTPS, each
one connection, captured at the proxy and counted from the packets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from testcontainers.compose import DockerCompose

from comms_sandbox import REPO, config, docker
from comms_sandbox.capture import capturing, keylog_for, packets
from comms_sandbox.compose import compose, profile_flags
from scenarios import on_the_wire
from scenarios.on_the_wire import connections, ladder, loss, nagle
from scenarios.result import SHARED_RESULTS, ScenarioResult, outcome
from tests.helpers import assert_holds

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"  # a Section Header Block starts every pcapng file


def test_every_way_counts_its_textbook_round_trips_from_the_capture(
    result: ScenarioResult,
) -> None:
    assert_holds(result)
    rows = result.metrics["https"]["ways"]
    assert [rows[w]["before_request"] for w in rows] == [3, 2, 2, 2, 1, 1, 1, 0]
    assert all(row["packets"] > 0 and row["status"] == 200 for row in rows.values())


def test_the_capture_is_pcapng_and_the_key_log_decrypts_it(result: ScenarioResult) -> None:
    folder = config.RESULTS_DIR / on_the_wire.NAME
    pcap = folder / "ways.pcapng"
    assert pcap.read_bytes()[:4] == PCAPNG_MAGIC
    keys = keylog_for(folder).read_text()
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in keys  # TLS 1.3 and QUIC
    assert "CLIENT_RANDOM" in keys  # TLS 1.2
    assert "CLIENT_EARLY_TRAFFIC_SECRET" in keys  # TLS 1.3 0-RTT (openssl) and QUIC 0-RTT
    # Without the key log, no request can be told from the handshake: nothing is counted.
    blind = connections.connections(packets(pcap))
    assert not any(
        connections.round_trips(c)["before_request"] is not None
        for c in blind if c.transport == "udp"
    )  # fmt: skip


def test_each_way_has_its_ladder_with_the_request_and_answer_marked(
    result: ScenarioResult, tmp_path: Path
) -> None:
    kept = result.metrics["https"]["ladders"]
    assert set(kept) == set(result.metrics["https"]["ways"])
    for way, arrows in kept.items():
        marked = [text for _, _, text, _, is_marked in arrows if is_marked]
        assert [m.split(":")[0] for m in marked] == ["request begins", "answer begins"], way
    for path in ladder.draw_all(kept, tmp_path):  # as the report draws them
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def listed_within(name_filter: str, seconds: float) -> list[str]:
    """The running containers named so, once there is one or `seconds` have passed: dumpcap
    says it is capturing a moment before `docker ps` may list its container (once, in a
    lesson run right after `make bench`, it listed none)."""
    deadline = time.monotonic() + seconds
    while not (found := docker.names(name_filter)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_a_capture_leaves_no_container_and_no_capability_behind(stack: DockerCompose) -> None:
    proxy = docker.containers("proxy")[0].name
    path = config.RESULTS_DIR / "captures" / "test-leftover.pcapng"
    with capturing(proxy, path):
        running = listed_within("sandbox-capture-", seconds=5)
        assert len(running) == 1, docker.names("sandbox-capture-", stopped_too=True)
        granted = json.loads(docker.inspect(running[0], "{{json .HostConfig.CapAdd}}"))
        dropped = json.loads(docker.inspect(running[0], "{{json .HostConfig.CapDrop}}"))
        assert granted == ["NET_RAW"] and dropped == ["ALL"]
    assert docker.names("sandbox-capture-", stopped_too=True) == []
    assert path.read_bytes()[:4] == PCAPNG_MAGIC


def test_any_lesson_runs_with_capture_and_gets_ladders(stack: DockerCompose) -> None:
    # A run of its own, as a learner's: not this test session's shared result.
    env = {k: v for k, v in os.environ.items() if k != SHARED_RESULTS}
    run = subprocess.run(
        [sys.executable, "-m", "scenarios", "run", "tls-termination", "--capture", "--quiet"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    folder = config.RESULTS_DIR / "tls-termination" / "capture"
    assert (folder / "proxy.pcapng").read_bytes()[:4] == PCAPNG_MAGIC
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in (folder / "keys.log").read_text()
    assert sorted(folder.glob("proxy-ladder-*.png"))


def test_nagle_costs_a_delayed_ack_per_message_where_a_sender_waits(
    result: ScenarioResult,
) -> None:
    cases = result.metrics["nagle"]["cases"]
    both = cases["client Nagle, server Nagle"]
    neither = cases["client TCP_NODELAY, server TCP_NODELAY"]
    # The timer is a floor: a busy machine can only add to it.
    assert both["median_ms"] >= 2 * nagle.DELAYED_ACK_MIN_MS * 0.9
    assert neither["client_delayed_acks"] + neither["server_delayed_acks"] <= 2
    # Never merged (the second write waits); a resend on a busy machine adds one.
    assert both["capture"]["client_data_segments"] >= 2 * nagle.REQUESTS


def test_reading_json_and_protobuf_is_measured_by_nginx_and_the_api(
    result: ScenarioResult,
) -> None:
    reading = result.metrics["reading"]
    assert not [check for check, ok in reading["holds"].items() if not ok]
    for name, case in reading["cases"].items():
        assert case["nginx_lines"] == case["requests"], name  # nginx logged every request
        assert case["request_bytes_on_wire"] > case["body_bytes"], name  # headers too
        assert all(case[f"{stage}_us"] is not None for stage in ("decode", "validate")), name
    assert {seen["status"] for seen in reading["refusals"].values()} == {400, 413, 415, 422}


def test_a_lost_packet_holds_back_every_http2_stream_and_one_http3_stream(
    result: ScenarioResult,
) -> None:
    measured = result.metrics["loss"]
    failing = [check for check, said in measured["holds"].items() if outcome(said) == "fails"]
    assert not failing, failing
    lossy = measured["runs"][loss.WITH]
    assert all(run["protocol"] == name for name, run in lossy.items())  # h2 and h3 spoken
    # Counted by the kernels: packets dropped at the client, segments sent again by nginx.
    assert measured["dropped"]["tcp"] >= 1 and measured["proxy_tcp_retransmissions"] >= 1
    assert measured["dropped_without_loss"] == {"tcp": 0, "udp": 0}


def test_a_killed_loss_run_leaves_no_rule_and_no_container(stack: DockerCompose) -> None:
    # The rules live in the client's own network namespace: killed mid-run, the container is
    # removed (--rm) and the namespace, rules included, goes with it.
    name = f"sandbox-loss-test-{os.getpid()}"
    loss.build_client()
    started = compose(*profile_flags(["loss-client"]), "run", "-d", "--rm", "--no-deps",
                      "--name", name, "loss-client", "--size", "1048576", "--every-ms", "20",
                      capture=True)  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        rules = wait_for_rules(name, seconds=15)
        assert "NFQUEUE" in rules, rules
    finally:
        docker.kill(name)
    deadline = time.monotonic() + 15
    while docker.names(name, stopped_too=True) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert docker.names(name, stopped_too=True) == []


def wait_for_rules(container: str, seconds: float) -> str:
    """The client's iptables rules once it has set them (empty when it never did)."""
    deadline = time.monotonic() + seconds
    found = ""
    while "NFQUEUE" not in found and time.monotonic() < deadline:
        time.sleep(0.5)
        found = docker.run_in(container, "iptables-legacy", "-w", "-S")
    return found
