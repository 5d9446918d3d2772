"""On the wire: the ways to HTTPS counted from packets, Nagle, transport corners, reading, loss.

The scenario captures the proxy's traffic (dumpcap in the proxy's network
namespace: comms_sandbox/capture.py) while the host opens one connection per
way to https://127.0.0.1:8443 and sends one GET: TCP + TLS 1.2, TLS 1.2
resumed, TLS 1.3, TLS 1.3 resumed, TLS 1.3 0-RTT (openssl s_client), TCP Fast
Open + TLS 1.3 (from a container on the proxy's network: ways.fastopen_way),
QUIC, QUIC 0-RTT. Every client writes its
TLS secrets to results/on-the-wire/keys.log (SSLKEYLOGFILE), so tshark
decrypts the capture and names every handshake message, and the request and
its answer are told apart from the handshake's own encrypted records.

What to look at: per way, the round trips before the request's first byte left
and before its answer's first byte arrived, counted packet by packet from the
capture (not from the client), the packets' own timestamps, and the time to
first byte that those round trips make on a path with 50 ms of round trip. The
ladder diagrams (results/on-the-wire/ladder-*.png) show each connection:
client, proxy and api columns, time going down, the request's first byte in
red. Open ways.pcapng with Wireshark (or `tshark -o tls.keylog_file:keys.log`)
to see the same packets decrypted.

Then Nagle's algorithm against delayed ACKs (nagle.py): a request and its answer
each written in two small writes, with Nagle on or TCP_NODELAY at either end;
look at each kernel's count of the ACKs it delayed and at the capture's wait
between a request's two segments. And two transport corners (corners.py):
TIME_WAIT running a client with ten ephemeral ports out of them, and UDP
datagrams that IP fragments, counted by the client's own kernel. Then the cost
of reading a request (reading.py): the same basket as JSON and as protobuf, 1 KiB
to 1 MiB; look at the api's CPU per stage and nginx's bytes on the wire. Last,
packet loss and head-of-line blocking (loss.py): six streams on one HTTP/2
connection and on one HTTP/3 connection, from a container that drops 3% of the
proxy's packets and gives its path a 30 ms round trip; look at which streams a
lost packet holds back (results/on-the-wire/loss-streams.png).
"""

from __future__ import annotations

import time
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from rich.console import Console

from comms_sandbox import config, docker
from comms_sandbox.capture import capturing, keylog_for, logging_keys, packets
from comms_sandbox.health import require_lesson_service, require_proxy
from scenarios import narration
from scenarios.on_the_wire import connections, corners, ladder, loss, nagle, reading, ways
from scenarios.report import records_table
from scenarios.result import ScenarioResult, from_parts, run_parts

NAME = "on-the-wire"
ORDER = 37  # place in the syllabus: after HTTP versions, whose handshakes it counts on the wire
# The default stack's proxy is what the HTTPS part captures at; nagle-server is the
# lesson's own; the capture tools and nagle-client are one-shot.
SERVICES = ("proxy", "nagle-server")  # corners-client is one-shot too
# Its run captures by itself (`--capture` would record the same packets twice).
CAPTURE_AT: tuple[str, ...] = ()
SHARED_FILES = (
    "comms_sandbox/capture.py",
    "comms_sandbox/http3.py",
    "scenarios/capture.py",
    "scenarios/__main__.py",
    "images/capture/Dockerfile",
    "scenarios/proxies/listening.sh",
    "scenarios/charts.py",
    "tests/unit/test_capture.py",
    "services/api/routes/wire.py",
    "services/protos/sandbox/wire/v1/basket.proto",
    "tests/unit/test_api_wire.py",
)
PROJECTED_RTT_MS = 50.0
# Between ways: their connections' packets must not interleave in the capture.
GAP_S = 0.3
CAPTURE_FILTER = "tcp port 8443 or udp port 8443 or tcp port 8000"


def nagle_server_runs() -> bool:
    """The lesson's own server is up (the capture joins its namespace, so it must run)."""
    return any(c.state == "running" for c in docker.containers("nagle-server"))


def folder() -> Path:
    return config.RESULTS_DIR / NAME


def run() -> ScenarioResult:
    require_proxy()
    require_lesson_service("nagle-server", nagle_server_runs, NAME)
    folder().mkdir(parents=True, exist_ok=True)
    results = run_parts({"https": https, "nagle": lambda: nagle.run(folder()),
                         "corners": corners.run, "reading": reading.run,
                         "loss": loss.run})  # fmt: skip
    return from_parts(NAME, results, PARTS)


PARTS = ("https", "nagle", "corners", "reading", "loss")


def https() -> dict[str, Any]:
    """The ways to HTTPS, captured at the proxy, counted from the packets."""
    pcap, keylog = folder() / "ways.pcapng", keylog_for(folder())
    proxy = docker.containers("proxy")[0].name
    with (
        narration.waiting(f"dumpcap in {proxy}'s network namespace", expected_s=3),
        capturing(proxy, pcap, CAPTURE_FILTER),
        logging_keys(keylog),
    ):
        clients = {way.name: _connect(way) for way in ways.WAYS}
    with narration.waiting("tshark reading the capture with the key log", expected_s=5):
        seen = packets(pcap, keylog)
    chosen = each_ways_connection(clients, connections.connections(seen), logged_randoms(keylog))
    return {**measured(clients, chosen), "packets": len(seen),
            "ladders": ladders(chosen, seen)}  # fmt: skip


def _connect(way: ways.Way) -> dict[str, Any]:
    narration.step(f"{way.name}: a new connection, GET {ways.PATH}")
    facts = ways.CONNECT[way.name]()
    time.sleep(GAP_S)
    return facts


def logged_randoms(keylog: Path) -> set[str]:
    """The client randoms in an NSS key log ("LABEL <client random> <secret>"): the TLS and
    QUIC connections this run's clients made."""
    lines = keylog.read_text().splitlines() if keylog.exists() else []
    return {line.split()[1].lower() for line in lines
            if not line.startswith("#") and len(line.split()) == 3}  # fmt: skip


def each_ways_connection(
    clients: dict[str, dict[str, Any]],
    found: list[connections.Connection],
    ours: AbstractSet[str] = frozenset(),
) -> dict[str, connections.Connection | None]:
    """Each way's connection in the capture: the one it opened in its own time window,
    among those whose ClientHello random is in this run's key log (`ours`): the other test
    lane's connections to 8443 are in the capture too (ci-31)."""
    mine = [c for c in found if c.client_randoms & ours] if ours else found
    return {way.name: find(mine, way.transport, clients[way.name]["started"],
                           _next_start(clients, way)) for way in ways.WAYS}  # fmt: skip


def measured(clients: dict[str, dict[str, Any]],
             chosen: dict[str, connections.Connection | None]) -> dict[str, Any]:  # fmt: skip
    """Per way: the round trips counted on its connection, beside what its client saw."""
    rows = {}
    for way in ways.WAYS:
        connection = chosen[way.name]
        counted = connections.round_trips(connection) if connection else {}
        rows[way.name] = {**_client_facts(clients[way.name]), **_counts(way, counted),
                          "packets": len(connection.packets) if connection else 0,
                          "client_hello_in_syn": client_hello_in_syn(connection)}  # fmt: skip
    return {"ways": rows, "holds": holds(rows)}


def _client_facts(client: dict[str, Any]) -> dict[str, Any]:
    facts = ("status", "version", "resumed", "early_data", "fastopen_passive")
    return {k: client.get(k) for k in facts}


def client_hello_in_syn(connection: connections.Connection | None) -> bool:
    """The connection's SYN carried data, and that data was a TLS ClientHello (Fast Open)."""
    if connection is None or connection.transport != "tcp" or not connection.packets:
        return False
    syn = connection.packets[0]
    return "S" in syn.flags and "A" not in syn.flags and syn.payload > 0 and 1 in syn.tls_handshake


def _counts(way: ways.Way, counted: dict[str, Any]) -> dict[str, Any]:
    before_answer = counted.get("before_answer")
    return {
        "expected_before_request": way.expected_before_request,
        "before_request": counted.get("before_request"),
        "expected_before_answer": way.expected_before_answer,
        "before_answer": before_answer,
        "request_ms": _ms(counted.get("request_s")),
        "answer_ms": _ms(counted.get("answer_s")),
        "ttfb_ms_at_50ms_rtt": (
            None if before_answer is None
            else connections.projected_ttfb_ms(before_answer, PROJECTED_RTT_MS)
        ),
    }  # fmt: skip


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _next_start(clients: dict[str, dict[str, Any]], way: ways.Way) -> float:
    names = [w.name for w in ways.WAYS]
    later = names[names.index(way.name) + 1 :]
    return clients[later[0]]["started"] if later else float("inf")


def find(found: list[connections.Connection], transport: str, after: float,
         before: float) -> connections.Connection | None:  # fmt: skip
    """The last connection to the proxy's 8443 opened in [after, before): a resumed way
    opens the connection it resumes from first, inside its own window."""
    candidates = [c for c in found if c.transport == transport
                  and c.server[1] == 8443 and after <= c.started < before]  # fmt: skip
    return candidates[-1] if candidates else None


def holds(rows: dict[str, dict[str, Any]]) -> dict[str, bool]:
    """The capture agrees with each way's textbook count, each way did what it claims."""
    checks = {
        f"{name}: {row['expected_before_request']} round trips before the request, "
        f"{row['expected_before_answer']} before the answer (capture)": (
            row["before_request"] == row["expected_before_request"]
            and row["before_answer"] == row["expected_before_answer"]
        )
        for name, row in rows.items()
    }
    checks["the resumed ones resumed, the others did not"] = all(
        bool(row["resumed"]) == ("resumed" in name or "0-RTT" in name) for name, row in rows.items()
    )
    for name in (name for name in rows if "0-RTT" in name):
        checks[f"{name}: the server took the early data"] = bool(rows[name].get("early_data"))
    if ways.FASTOPEN in rows:
        checks[f"{ways.FASTOPEN}: its SYN alone carried the ClientHello (capture), and the "
               "proxy's kernel served a Fast Open (TCPFastOpenPassive)"] = (
            [n for n, row in rows.items() if row.get("client_hello_in_syn")] == [ways.FASTOPEN]
            and (rows[ways.FASTOPEN].get("fastopen_passive") or 0) >= 1
        )  # fmt: skip
    return checks


def ladders(chosen: dict[str, connections.Connection | None],
            seen: list[Any]) -> dict[str, list[Any]]:  # fmt: skip
    """Each way's ladder as arrows (the report draws them: ladder.draw_all), the api's
    packets of the same moments on the right."""
    return {name: ladder.arrows(connection, upstream_packets(seen, connection))
            for name, connection in chosen.items() if connection is not None}  # fmt: skip


def upstream_packets(seen: list[Any], connection: connections.Connection) -> list[Any]:
    """The proxy's packets to and from the api (port 8000) while the connection lasted."""
    end = connection.packets[-1].time
    return [p for p in seen if 8000 in (p.sport, p.dport)
            and connection.started <= p.time <= end]  # fmt: skip


ROWS = ("version", "resumed", "before_request", "before_answer", "request_ms", "answer_ms",
        "ttfb_ms_at_50ms_rtt", "packets", "client_hello_in_syn")  # fmt: skip


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics["https"]
    rows = [{"way": name, **{k: _cell(row.get(k)) for k in ROWS}}
            for name, row in m["ways"].items()]  # fmt: skip
    console.print(records_table(
        f"round trips counted from the capture ({m['packets']} packets at the proxy); "
        "ms: the packets' own time since the connection's first packet",
        rows, ("way", *ROWS)))  # fmt: skip
    console.print(f"ladders: {', '.join(ladder.file_name(w) for w in m['ladders'])} "
                  f"in results/{NAME}/")  # fmt: skip
    n = result.metrics["nagle"]
    cases = [{"case": case, **{k: _cell(v) for k, v in row.items() if k != "capture"},
              **{k: _cell(v) for k, v in row["capture"].items()}}
             for case, row in n["cases"].items()]  # fmt: skip
    console.print(records_table(
        f"Nagle and delayed ACKs: {n['requests']} requests per case, each in two small "
        "writes, each answer in two", cases, tuple(cases[0])))  # fmt: skip
    c = result.metrics["corners"]
    ports = c["ports"]
    console.print(
        f"ephemeral ports {ports['port_range']}: {ports['connections_made']} "
        f"connections, then {ports['error']}; {ports['time_wait']} in TIME_WAIT "
        f"(all TCP sockets by /proc/net/tcp state: {ports.get('states', {})})"
    )
    for size, sent in c["fragments"].items():
        console.print(
            f"{sent['datagrams']} UDP datagrams of {size} bytes (MTU {sent['mtu']}): "
            f"{sent['fragments_created']} IP fragments made"
        )
    render_reading(result.metrics["reading"], console)
    render_loss(result.metrics["loss"], console)
    for check, ok in result.metrics["checks"].items():
        console.print(f"  {'[green]holds[/]' if ok else '[red]FAILS[/]'}  {check}")


def charts(metrics: dict[str, Any], into: Path) -> list[Path]:
    """The report's charts, drawn into `into`: a ladder per way, the reading costs, the
    streams under loss."""
    drawn = ladder.draw_all(metrics["https"]["ladders"], into)
    if "reading" in metrics:
        drawn.append(reading.chart(metrics["reading"], into))
    if "loss" in metrics:
        drawn.append(loss.chart(metrics["loss"], into))
    return drawn


LOSS_COLUMNS = ("protocol", "late", "p50", "p90", "p99", "events", "together_share")
# (late, p50, p90 and p99 of the writes' delays; events: stalls)


def render_loss(m: dict[str, Any], console: Console) -> None:
    rows = [{"run": f"{condition}, {name}", **{k: _cell(run.get(k)) for k in LOSS_COLUMNS[:2]},
             **{k: _cell(run["delay_ms"][k]) for k in ("p50", "p90", "p99")},
             **{k: _cell(run.get(k)) for k in LOSS_COLUMNS[-2:]}}
            for condition, runs in m["runs"].items() for name, run in runs.items()]  # fmt: skip
    console.print(records_table(
        f"loss: {loss.STREAMS} streams on one connection, each write's one-way delay in ms "
        f"(late: over {loss.LATE_MS:.0f} ms); events: stalls; together_share: of the stalls "
        "during which other streams sent, the share that held back every one of them",
        rows, ("run", *LOSS_COLUMNS)))  # fmt: skip
    console.print(
        f"dropped by iptables: {m['dropped']}; the proxy's TCP retransmissions: "
        f"{m['proxy_tcp_retransmissions']}; rules left in the client's namespace: "
        f"{m['rules_left']}"
    )


READING_COLUMNS = ("body_bytes", "request_bytes_on_wire", "read_us", "decode_us", "validate_us",
                   "handle_us", "encode_us", "client_p50_ms", "nginx_own_p50_ms",
                   "api_cgroup_cpu_ms_per_request")  # fmt: skip


def render_reading(m: dict[str, Any], console: Console) -> None:
    rows = [{"case": name, **{k: _cell(row.get(k)) for k in READING_COLUMNS}}
            for name, row in m["cases"].items()]  # fmt: skip
    console.print(records_table(
        "the cost of reading a request: POST /wire/read, medians; the api's stages in µs of "
        "its thread's CPU (read: wall time)", rows, ("case", *READING_COLUMNS)))  # fmt: skip
    for name, seen in m["refusals"].items():
        console.print(f"{name}: {seen['status']} ({seen['detail']})")


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)
