"""Data channel against the server path: round trips and throughput, as ratios from one run.

Direct (two peers on one network, host candidates), relayed (two networks,
coturn between them) and the WebSocket through nginx and the api (the
signaling path, carrying the same short messages): ROUND_TRIPS pings each,
then a burst of BURST 1 KiB messages (messages/s until the last arrived).
"""

from __future__ import annotations

import statistics
import uuid
from typing import Any

from rich.table import Table

from bench.support.report import right_aligned
from comms_sandbox import webrtc

NAME = "webrtc"  # python -m bench webrtc
LESSON = "webrtc"
ROUND_TRIPS = 300
BURST = 3000


def room() -> str:
    return f"bench-{uuid.uuid4().hex[:6]}"


def data_channel(caller: str, answerer: str) -> dict[str, Any]:
    report = webrtc.peer_pair(caller, answerer, room(), ROUND_TRIPS, "--burst", str(BURST))
    caller_report = report["caller"]
    return {"rtt_p50_ms": caller_report["data"]["rtt_ms"]["p50"],
            "per_s": caller_report["burst"]["per_s"], "pair": caller_report["pair"]}  # fmt: skip


def server_path() -> dict[str, Any]:
    rtts = webrtc.server_path_rtts(room(), ROUND_TRIPS)["rtts_ms"]
    burst = webrtc.server_path_burst(room(), BURST)
    return {"rtt_p50_ms": round(statistics.median(rtts), 3), "per_s": burst["per_s"]}


def run() -> dict[str, Any]:
    paths = {
        "direct": data_channel("rtc-peer-a", "rtc-peer-a"),
        "relayed": data_channel("rtc-peer-a", "rtc-peer-b"),
        "websocket via nginx and the api": server_path(),
    }
    direct = paths["direct"]
    return {
        "paths": paths,
        "ratios_to_direct": {
            name: {"rtt_p50": round(p["rtt_p50_ms"] / direct["rtt_p50_ms"], 2),
                   "per_s": round(p["per_s"] / direct["per_s"], 2)}
            for name, p in paths.items()
        },
    }  # fmt: skip


def tables(result: dict[str, Any]) -> list[Table]:
    table = right_aligned(f"{ROUND_TRIPS} round trips, then {BURST} x 1 KiB", "path",
                          "RTT p50 (ms)", "x direct", "messages/s", "x direct")  # fmt: skip
    for name, p in result["paths"].items():
        ratio = result["ratios_to_direct"][name]
        table.add_row(name, f"{p['rtt_p50_ms']:.2f}", f"{ratio['rtt_p50']:.2f}",
                      f"{p['per_s']:.0f}", f"{ratio['per_s']:.2f}")  # fmt: skip
    return [table]
