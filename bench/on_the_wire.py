"""What watching the wire costs, and what the ways to HTTPS cost on a real path.

- capture overhead: wrk (the loadgen tool, on the back network) GETs /whoami
  through nginx for WRK_SECONDS on CONNECTIONS connections, without a capture
  and then with dumpcap capturing in nginx's network namespace; requests/s,
  p99 and the ratio, side by side in one run (twice each, alternating, so a
  neighbour's burst does not land on one side only);
- time to first byte per way to HTTPS at a projected 50 ms round trip: the
  round trips the lesson counts in its capture, times 50 ms;
- HTTP/2 against HTTP/3 at 2% loss: the lesson's loss client (six streams on one
  connection, a 30 ms round trip), each write's one-way delay: p50, p99 and the
  share of writes late, per protocol, side by side in one run of the client.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.support.narrate import measuring
from bench.support.report import rates_with_ratio
from comms_sandbox import docker
from comms_sandbox.capture import capturing
from comms_sandbox.wrk import build_image, wrk
from scenarios.on_the_wire import https, loss
from scenarios.on_the_wire.connections import projected_ttfb_ms

NAME = "on-the-wire"  # python -m bench on-the-wire
LESSON = "on-the-wire"

WRK_SECONDS, CONNECTIONS = 6, 10
URL = "http://proxy:8090/whoami"  # nginx's plain internal port, beside wrk on `back`
ROUNDS = 2
RTT_MS = 50.0
LOSS = 0.02


def loss_delays() -> dict[str, dict[str, Any]]:
    """Per protocol, with LOSS: each write's delay, p50 and p99, and the share late."""
    client = loss.run_loss_client(LOSS)
    lossy = client["conditions"][loss.WITH]["runs"]
    rows = {}
    for protocol in loss.PROTOCOLS:
        summary = loss.summary(lossy[protocol])
        delays = summary["delay_ms"]
        rows[protocol] = {
            "p50_ms": delays["p50"],
            "p99_ms": delays["p99"],
            "late_share": round(summary["late"] / sum(summary["writes"]), 3),
        }
    return rows


def expected_s() -> float:
    return 2 * ROUNDS * WRK_SECONDS + 45.0


def rate() -> dict[str, float]:
    load = wrk(URL, seconds=WRK_SECONDS, connections=CONNECTIONS)
    if load.errors:
        raise RuntimeError(f"{load.errors} failed GETs of {URL}")
    return {"per_s": load.requests_per_s, "p99_ms": load.p99_ms}


def capture_overhead() -> dict[str, Any]:
    proxy = docker.containers("proxy")[0].name
    plain, captured = [], []
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as folder:
        for round_ in range(ROUNDS):
            plain.append(rate())
            pcap = Path(folder) / f"round-{round_}.pcapng"
            with capturing(proxy, pcap, "tcp port 8090 or tcp port 8000"):
                captured.append(rate())
            captured[-1]["pcap_mib"] = round(pcap.stat().st_size / 2**20, 1)
    return {"without": _mean(plain), "with": _mean(captured),
            "pcap_mib": [c["pcap_mib"] for c in captured]}  # fmt: skip


def _mean(loads: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(sum(load[key] for load in loads) / len(loads), 1)
            for key in ("per_s", "p99_ms")}  # fmt: skip


def run() -> dict[str, Any]:
    build_image()
    with measuring("GETs through nginx, with and without a capture", 1, 1):
        overhead = capture_overhead()
    with measuring("the ways to HTTPS, counted from a capture", 1, 1):
        ways = https()["ways"]
    with measuring(f"six streams over HTTP/2 and HTTP/3 at {LOSS:.0%} loss", 1, 1):
        lossy = loss_delays()
    return {
        "tool": f"wrk {WRK_SECONDS} s on {CONNECTIONS} connections, {ROUNDS} rounds each",
        "capture": overhead,
        "captured_per_s_ratio": round(overhead["with"]["per_s"] / overhead["without"]["per_s"], 2),
        "ttfb_ms_at_50ms_rtt": {
            name: projected_ttfb_ms(row["before_answer"], RTT_MS)
            for name, row in ways.items() if row["before_answer"] is not None
        },
        "loss": {"rate": LOSS, "rtt_ms": loss.RTT_MS, "streams": loss.STREAMS, "by_protocol": lossy,
                 "h2_over_h3_p99": round(lossy["HTTP/2"]["p99_ms"] / lossy["HTTP/3"]["p99_ms"], 2)},
    }  # fmt: skip


def tables(result: dict[str, Any]) -> list[Table]:
    load = rates_with_ratio(
        f"GET /whoami through nginx: {result['tool']}", "",
        {f"{name} a capture": result["capture"][name] for name in ("without", "with")},
        ("ratio (target at least 0.7)", result["captured_per_s_ratio"]),
    )  # fmt: skip
    ttfb = Table(title=f"time to first byte from round trips alone, at {RTT_MS:.0f} ms each")
    for column in ("way", "ms"):
        ttfb.add_column(column, justify="right")
    for way, ms in result["ttfb_ms_at_50ms_rtt"].items():
        ttfb.add_row(way, f"{ms:.0f}")
    return [load, ttfb, loss_table(result["loss"])]


def loss_table(measured: dict[str, Any]) -> Table:
    title = (
        f"{measured['streams']} streams on one connection at {measured['rate']:.0%} loss, "
        f"{measured['rtt_ms']} ms round trip: each write's delay"
    )
    table = Table(title=title)
    for column in ("protocol", "p50 ms", "p99 ms", "writes late"):
        table.add_column(column, justify="right")
    for protocol, row in measured["by_protocol"].items():
        table.add_row(protocol, str(row["p50_ms"]), str(row["p99_ms"]), f"{row['late_share']:.1%}")
    table.add_row("HTTP/2 / HTTP/3 p99", "", str(measured["h2_over_h3_p99"]), "")
    return table
