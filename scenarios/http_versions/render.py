"""The http-versions report: a table per part, the verdicts, and one PNG of bar charts."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from comms_sandbox.config import RESULTS_DIR
from scenarios.charts import save_bar_charts
from scenarios.report import print_checks, records_table
from scenarios.result import ScenarioResult

CHART = "http-versions.png"


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    for table in (negotiation(m), handshakes(m), zero_rtt(m), head_of_line(m), *tcp_udp(m),
                  refusals(m)):  # fmt: skip
        console.print(table)
    print_checks(m["checks"], console)
    console.print(f"charts: {chart(m)}")


def negotiation(m: dict[str, Any]) -> Any:
    n = m["negotiation"]
    rows = [{"client": name, **c} for name, c in n["clients"].items()]
    return records_table(
        f"negotiation: {n['requests']} GETs per client, as the client and as nginx saw them",
        rows, ("client", "version", "alpn", "nginx_protocol", "nginx_alpn", "connections",
               "all_done_ms", "alt_svc"),
    )  # fmt: skip


def handshakes(m: dict[str, Any]) -> Any:
    rows = [{"path": name, **p} for name, p in m["handshakes"]["paths"].items()]
    return records_table(
        "round trips before the request could leave (counted), and times (median ms, loopback)",
        rows, ("path", "tcp_round_trips", "crypto_round_trips", "round_trips_before_request",
               "resumed", "early_data", "handshake_ms", "ttfb_ms", "ttfb_ms_at_50ms_rtt"),
    )  # fmt: skip


def zero_rtt(m: dict[str, Any]) -> Any:
    z = m["zero_rtt"]
    rows = [{"connection": side, **row} for side in ("original", "replay")
            for row in z["nginx"][side]]  # fmt: skip
    return records_table(
        f"0-RTT as nginx logged it (early data accepted: {z['client']['early_data_accepted']}; "
        f"replay: {z['replay']['datagrams']} captured datagrams sent again)",
        rows, ("connection", "request", "early_data", "status"),
    )  # fmt: skip


def head_of_line(m: dict[str, Any]) -> Any:
    h = m["head_of_line"]
    rows = [{"client": name, **c} for name, c in h["clients"].items()]
    return records_table(
        f"head-of-line: a {h['slow_ms']} ms response first, then {h['fast']} fast ones "
        "(ms since the first was sent)",
        rows, ("client", "slow_done_ms", "fast_median_ms", "fast_done_ms"),
    )  # fmt: skip


def tcp_udp(m: dict[str, Any]) -> list[Any]:
    t = m["tcp_udp"]
    first = [{"protocol": p, **v} for p, v in t["first_answer"].items()]
    b = t["boundaries"]
    bounds = [{"protocol": p, "writes": b["writes"], **b[p]} for p in ("UDP", "TCP")]
    burst = [{"protocol": p, **{k: v for k, v in t["burst"][p].items() if k != "dropped_by_kernel"}}
             for p in ("UDP", "TCP")]  # fmt: skip
    drops = [{"namespace": ns, **d} for ns, d in t["burst"]["UDP"]["dropped_by_kernel"].items()]
    return [
        records_table("TCP and UDP: the first answer", first,
                      ("protocol", "round_trips", "connect_ms", "first_answer_ms")),
        records_table("message boundaries", bounds, ("protocol", "writes", "reads", "each_whole")),
        records_table("a burst at a busy receiver", burst,
                      ("protocol", "sent", "received", "lost", "duplicated", "reordered",
                       "sent_in_ms")),
        records_table("UDP datagrams the kernels dropped during the burst", drops,
                      ("namespace", "Udp.RcvbufErrors", "Udp.InErrors")),
    ]  # fmt: skip


def refusals(m: dict[str, Any]) -> Any:
    r = m["refusals"]
    rows = [
        {"input": "garbage datagrams", "answer": f"{r['garbage']['answers']} answers "
         f"({r['garbage']['answers_that_are_stateless_resets']} stateless resets)",
         "then": r["garbage"]["connected_client_then"]},
        {"input": f"QUIC version {r['no_common_version']['offered']}",
         "answer": f"version negotiation: {r['no_common_version']['server_offers']}",
         "then": r["no_common_version"]["then"]},
        *({"input": f"HTTP/3 headers: {name}", "answer": o["status"] or f"reset {o['reset']}",
           "then": o["same_connection_then"]} for name, o in r["bad_headers"].items()),
    ]  # fmt: skip
    return records_table("bad input on the QUIC port (then: the next request's status)", rows,
                         ("input", "answer", "then"))  # fmt: skip


def chart(m: dict[str, Any]) -> str:
    paths = m["handshakes"]["paths"]
    hol = m["head_of_line"]["clients"]
    burst = m["tcp_udp"]["burst"]
    panels = {
        "round trips before the request": {
            _short(n): p["round_trips_before_request"] for n, p in paths.items()
        },
        "TTFB at a 50 ms RTT (ms, projected)": {
            _short(n): p["ttfb_ms_at_50ms_rtt"] for n, p in paths.items()
        },
        "head-of-line: fast requests' median (ms)": {
            n.split(",")[0]: c["fast_median_ms"] for n, c in hol.items()
        },
        f"burst of {burst['TCP']['sent']}: messages delivered": {
            p: burst[p]["received"] for p in ("TCP", "UDP")
        },
    }
    path = save_bar_charts(RESULTS_DIR / CHART, "HTTP/1.1, HTTP/2, HTTP/3; TCP and UDP", panels, "")
    return str(path)


def _short(name: str) -> str:
    return (name.replace("TCP + TLS 1.3", "TCP+TLS").replace(", resumed", " resumed")
            .replace(" (1-RTT)", "").replace(" (0-RTT)", " 0-RTT"))  # fmt: skip
