"""Packet loss and head-of-line blocking: the same streams over one HTTP/2 connection and
over HTTP/3, with and without loss.

The client (services/wire/loss.py) runs in a container of its own, `loss-client`,
and injects the loss there, in its own network namespace: iptables' statistic
match drops a share of the packets that arrive from the proxy's port 8443 (TCP
and UDP), and an NFQUEUE delay line holds every packet it sends to that port for
RTT_MS (this kernel has no netem; without a round trip, a lost packet costs
almost nothing). Nothing else sees either: the rules exist only in that
namespace, are removed after each condition, and vanish with the container.

STREAMS GETs of /wire/bytes at once on one connection, each body written by the
api CHUNK bytes at a time every EVERY_MS, each write stamped with the kernel's
monotonic clock, which every container shares: the client reads each write's
one-way delay. A write is late when its delay is over LATE_MS.

What to look at: when a packet is lost, which streams are held back. Over
HTTP/2 every stream's bytes travel in one TCP byte stream, delivered in order:
a lost segment holds back every write sent after it, on every stream, until it
is sent again (head-of-line blocking). Over HTTP/3 each QUIC stream is ordered
on its own: a lost packet holds back the streams whose frames it carried, and
the others keep arriving. Both still share one congestion controller, which
slows every stream after a loss.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from comms_sandbox import docker, kernel_counters
from scenarios import charts, narration
from scenarios.on_the_wire.tools import build_once, run_client
from scenarios.result import Check, NotShown, unless

LOSS = 0.03  # the 1-5 %
RTT_MS = 30
STREAMS, SIZE, CHUNK, EVERY_MS = 6, 48 * 1024, 512, 40  # ~77 KB/s: below any congestion
LATE_MS = 25.0  # under a loss's cost (a round trip and more), over the no-loss spread
# A stall's writes are released together: one read, within RELEASE_MS. Writes sent in its
# last MARGIN_MS would arrive about then anyway and tell nothing.
RELEASE_MS, MARGIN_MS = 3.0, 5.0
TOGETHER, FEWER = 0.75, 0.3  # shares of stalls the verdicts want
BUSY_SHARE = 0.03  # late writes without loss above this share: the machine stalled the run
PROTOCOLS = ("HTTP/2", "HTTP/3")
CLIENT_SOURCES = ("services/wire", "services/Dockerfile", "services/requirements/wire.lock")
WITHOUT, WITH = "without loss", "with loss"
Write = tuple[float, int, float]  # sent ms, stream, delay ms


def client_args(loss: float = LOSS) -> list[str]:
    return ["--loss", str(loss), "--rtt-ms", str(RTT_MS), "--streams", str(STREAMS),
            "--size", str(SIZE), "--chunk", str(CHUNK), "--every-ms", str(EVERY_MS)]  # fmt: skip


def build_client() -> None:
    """The loss client's image, built when its code changed (tools.build_once)."""
    build_once("loss-client", *CLIENT_SOURCES)


def run_loss_client(loss: float = LOSS) -> dict[str, Any]:
    """The client's four transfers (HTTP/2, HTTP/3; without and with `loss`): its JSON."""
    build_client()
    return run_client("loss-client", *client_args(loss))


def proxy_retransmissions() -> int:
    """Tcp RetransSegs in the proxy's network namespace (its /proc/net/snmp)."""
    return kernel_counters.in_container(docker.containers("proxy")[0].name)["Tcp.RetransSegs"]


def writes(streams: list[list[list[float]]]) -> list[Write]:
    """Every stream's writes as (sent ms, stream, delay ms), in the order they were sent."""
    return sorted((sent, n, delay) for n, stream in enumerate(streams) for sent, delay in stream)


def loss_events(found: list[Write], late_ms: float = LATE_MS) -> list[dict[str, Any]]:
    """Each stall: a late write (delay over late_ms, not sent during an earlier stall) and
    what the other streams did meanwhile. Writes they sent after it and before it arrived
    ("sending") either arrived as usual, or only when the late write did, at the same moment
    ("held"): behind the same missing bytes. Over TCP every later byte waits for the lost
    segment; over QUIC only its own stream's do."""
    events: list[dict[str, Any]] = []
    stalled_until = float("-inf")
    for sent, stream, delay in found:
        if delay <= late_ms or sent <= stalled_until:
            continue
        arrived = sent + delay
        meanwhile = [w for w in found if sent < w[0] < arrived - MARGIN_MS and w[1] != stream]
        by_stream: dict[int, list[bool]] = {}
        for other_sent, other, other_delay in meanwhile:
            waited = other_sent + other_delay >= arrived - RELEASE_MS
            by_stream.setdefault(other, []).append(waited)
        events.append({"at_ms": round(sent), "stream": stream, "stall_ms": delay,
                       "others_sending": len(by_stream),
                       "others_held": sum(all(w) for w in by_stream.values())})  # fmt: skip
        stalled_until = arrived
    return events


def together_share(events: list[dict[str, Any]]) -> float | None:
    """Of the stalls during which another stream sent, the share that held back every other
    stream sending; None when there was none."""
    judged = [e for e in events if e["others_sending"] >= 1]
    if not judged:
        return None
    return round(sum(e["others_held"] == e["others_sending"] for e in judged) / len(judged), 2)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(run: dict[str, Any]) -> dict[str, Any]:
    found = writes(run["streams"])
    delays = [d for _, _, d in found]
    events = loss_events(found)
    return {
        "protocol": run["protocol"],
        "writes": [len(stream) for stream in run["streams"]],
        "late": sum(d > LATE_MS for d in delays),
        "delay_ms": {
            "p50": percentile(delays, 0.5),
            "p90": percentile(delays, 0.9),
            "p99": percentile(delays, 0.99),
            "mean": round(statistics.fmean(delays), 2) if delays else None,
        },
        "events": len(events),
        "together_share": together_share(events),
        "event_list": events[:40],
    }


def run() -> dict[str, Any]:
    narration.step(
        f"loss-client: {STREAMS} streams of {SIZE // 1024} KiB on one connection, HTTP/2 "
        f"then HTTP/3; {RTT_MS} ms round trip, then {LOSS:.0%} loss too"
    )
    build_client()
    before = proxy_retransmissions()
    with narration.waiting("the loss client's four transfers", expected_s=25):
        client = run_loss_client()
    retransmitted = proxy_retransmissions() - before
    conditions = client["conditions"]
    result = {
        "settings": client["settings"],
        "runs": {
            cond: {p: summary(conditions[cond]["runs"][p]) for p in PROTOCOLS}
            for cond in (WITHOUT, WITH)
        },
        "dropped": conditions[WITH]["dropped"],
        "dropped_without_loss": conditions[WITHOUT]["dropped"],
        "delayed_packets": {cond: conditions[cond]["delayed"] for cond in (WITHOUT, WITH)},
        "proxy_tcp_retransmissions": retransmitted,
        "rules_left": client["rules_left"],
        "streams": {p: conditions[WITH]["runs"][p]["streams"] for p in PROTOCOLS},
    }
    return {**result, "holds": holds(result)}


def busy_reason(result: dict[str, Any]) -> NotShown | None:
    """Why the head-of-line verdicts cannot be judged: writes late without any loss."""
    late = {p: r["late"] / max(1, sum(r["writes"])) for p, r in result["runs"][WITHOUT].items()}
    stalled = [f"{p} {share:.0%}" for p, share in late.items() if share > BUSY_SHARE]
    if not stalled:
        return None
    return NotShown(f"machine busy: writes late without any loss ({', '.join(stalled)})")


def holds(result: dict[str, Any]) -> dict[str, Check]:
    """The loss happened (iptables' and the proxy kernel's own counts), every byte came,
    nothing was left behind, and the late writes were shared over HTTP/2, not over HTTP/3."""
    lossy = result["runs"][WITH]
    every = SIZE // CHUNK
    checks: dict[str, Check] = {
        "the drop rules dropped packets of both connections (iptables' counts)": (
            result["dropped"]["tcp"] > 0 and result["dropped"]["udp"] > 0
        ),
        "the proxy sent TCP segments again (its kernel's Tcp RetransSegs rose)": (
            result["proxy_tcp_retransmissions"] > 0
        ),
        "every stream got every write, with loss and without": all(
            run["writes"] == [every] * STREAMS
            for cond in result["runs"].values()
            for run in cond.values()
        ),
        "no rule left in the client's namespace after the runs": result["rules_left"] == 0,
    }
    busy = busy_reason(result)
    h2, h3 = lossy["HTTP/2"]["together_share"], lossy["HTTP/3"]["together_share"]
    checks[f"HTTP/2: a lost packet held back every stream sending ({TOGETHER:.0%}+ of events)"] = (
        unless(busy, h2 is not None and h2 >= TOGETHER)
    )
    # Relative: a stall the machine causes (the client not scheduled) holds every stream
    # over either protocol, and so raises both shares alike.
    fewer = h3 is not None and h3 <= (1.0 if h2 is None else h2) - FEWER
    name = f"HTTP/3: fewer stalls held every other stream ({FEWER:.0%} of them less than HTTP/2)"
    checks[name] = unless(busy, fewer)
    return checks


def chart(loss: dict[str, Any], folder: Path) -> Path:
    """Per protocol, with loss: each write's delay against when it was sent, one line per
    stream. Over HTTP/2 the spikes rise on every stream at once; over HTTP/3, on one or two.
    (Each stream's bytes against time would be six lines on top of each other: the api
    paces the writes, so a stall shows as a delay, not as a slope.)"""
    panels = {
        f"{protocol}: each write's delay (ms), by when it was sent": {
            f"stream {n + 1}": [(sent / 1000, delay) for sent, delay in stream]
            for n, stream in enumerate(streams)
        }
        for protocol, streams in loss["streams"].items()
    }
    title = (
        f"{STREAMS} streams on one connection, {RTT_MS} ms round trip, "
        f"{loss['settings']['loss']:.0%} of the proxy's packets dropped"
    )
    return charts.save_line_panels(folder / "loss-streams.png", title, panels, "seconds")
