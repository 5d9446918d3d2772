"""The WebRTC report: the pairs, the paths compared, the refusals, the verdicts."""

from __future__ import annotations

from rich.console import Console

from scenarios.report import print_checks, records_table
from scenarios.result import ScenarioResult


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    rows = [
        {
            "path": name,
            "local": m[name]["pair"]["local"],
            "remote": m[name]["pair"]["remote"],
            **m[name]["data"],
        }
        for name in ("direct", "relayed")
    ]
    console.print(
        records_table(
            "data channel: the selected ICE pair, round trips",
            rows,
            ("path", "local", "remote", "sent", "lost", "rtt_ms"),
        )
    )
    compared = [
        {"path": p, "rtt_p50_ms": v, "servers": m["comparison"]["servers_on_the_data_path"][p]}
        for p, v in m["comparison"]["rtt_p50_ms"].items()
    ]
    console.print(
        records_table("the same messages, three paths", compared, ("path", "rtt_p50_ms", "servers"))
    )
    refused = [
        {"sent": k, "answer": v.get("reason", v["type"])}
        for k, v in m["refusals"]["signaling"].items()
    ]
    console.print(records_table("malformed signaling", refused, ("sent", "answer")))
    turn = [{"credential": k, **v} for k, v in m["refusals"]["turn"].items()]
    console.print(records_table("TURN credentials", turn, ("credential", "allocated", "error")))
    print_checks(m["checks"], console)
