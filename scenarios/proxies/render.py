"""The proxies report: a table per part, the verdicts, and one PNG of what was counted."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from comms_sandbox.config import RESULTS_DIR
from scenarios.charts import save_bar_charts
from scenarios.report import print_checks, records_table
from scenarios.result import ScenarioResult

CHART = "proxies.png"


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    parts = {"forward": _forward, "caching": _caching, "keep-alive": _keepalive,
             "multiplexing": _multiplexing, "sessions": _sessions,
             "client address": _client_address}  # fmt: skip
    for part, draw in parts.items():
        if part in m:
            draw(m[part], console)
    print_checks(m["checks"], console)
    console.print(f"chart: {chart(m)}")


def _forward(p: dict[str, Any], console: Console) -> None:
    rows = [{"method": x["method"], "URL as Squid logged it": x["url"], "status": x["status"],
             "bytes to client": x["bytes_sent"],
             "headers seen": "yes" if x["headers"] != "-" else "no (encrypted)"}
            for x in p["log"]]  # fmt: skip
    console.print(records_table("Squid's access log for the inside client's requests", rows,
                                ("method", "URL as Squid logged it", "status", "bytes to client",
                                 "headers seen")))  # fmt: skip
    direct = p["direct"][0]
    console.print(f"straight to the site ({direct['url']}): {direct.get('error')}; "
                  f"addresses: {p['addresses']}")  # fmt: skip


def _caching(p: dict[str, Any], console: Console) -> None:
    def row(what: str, cache: Any, origin: Any) -> dict[str, Any]:
        return {"what": what, "X-Cache-Status": cache, "origin made the list": origin}

    rows = [row(f"200 cold GETs, {name}", v["answers"]["cache"], v["origin"]["prices 200"])
            for name, v in p["stampede"].items()]  # fmt: skip
    rows += [row(f"twice, {name}", v["answers"]["sequence"], sum(v["origin"].values()))
             for name, v in p["never cached"].items()]  # fmt: skip
    vary = p["vary"]
    rows.append(row(f"Vary: Accept-Language {vary['languages']}", vary["answers"]["sequence"],
                    vary["origin"]))  # fmt: skip
    reval, stale = p["revalidated"], p["stale"]
    rows.append(row("after max-age", reval["answers"]["cache"], reval["origin"]))
    rows.append(row(f"{stale['replicas stopped']} replicas stopped", stale["answers"]["cache"],
                    f"none; statuses {stale['answers']['statuses']}"))  # fmt: skip
    console.print(records_table(f"nginx proxy_cache (key {p['cache']['key']})", rows,
                                ("what", "X-Cache-Status", "origin made the list")))  # fmt: skip


def _keepalive(p: dict[str, Any], console: Console) -> None:
    rows = [{"client": name, "idle before (s)": c.get("idle before each (s)", "-"),
             "statuses": c["logged"], "upstream attempts": c["upstream attempts"],
             "nginx's reasons": len(c["reasons"])} for name, c in p["clients"].items()]  # fmt: skip
    s = p["settings"]
    console.print(records_table(
        f"requests sent {s['lead ms']:.0f} ms before the replica's {s['replica idle']} idle "
        f"timeout, over a link of {s['link latency ms']} ms",
        rows, ("client", "idle before (s)", "statuses", "upstream attempts",
               "nginx's reasons")))  # fmt: skip


def _multiplexing(p: dict[str, Any], console: Console) -> None:
    rows = [{"way": name, **counts} for name, counts in p["ways"].items()]
    console.print(records_table(
        "streams and connections, counted by the edge's kernel and the replicas", rows,
        ("way", "answered", "client connections at the proxy", "connections the proxy opened",
         "upstream connections that carried them")))  # fmt: skip


def _sessions(p: dict[str, Any], console: Console) -> None:
    rows = [{"case": name, **counts} for name, counts in p["cases"].items()]
    console.print(records_table(
        f"{p['clients']} shoppers, each logs in and puts {p['items']} items in a cart", rows,
        ("case", "shoppers", "401s", "carts lost")))  # fmt: skip


def _client_address(p: dict[str, Any], console: Console) -> None:
    rows = [{"path": way, "replica saw the client as": a.get("client"), "its peer": a.get("peer"),
             "nginx saw the client as": p["nginx saw"][way]}
            for way, a in p["answers"].items()]  # fmt: skip
    console.print(records_table(f"layer-4 proxy (the edge is {p['edge address']})", rows,
                                ("path", "replica saw the client as", "its peer",
                                 "nginx saw the client as")))  # fmt: skip


def chart(m: dict[str, Any]) -> str:
    panels: dict[str, dict[str, int]] = {}
    if "caching" in m:
        panels["origin requests for 200 cold GETs"] = {
            name: v["origin"]["prices 200"] for name, v in m["caching"]["stampede"].items()
        }
    if "multiplexing" in m:
        for name, counts in m["multiplexing"]["ways"].items():
            panels[name] = {
                "client conns": counts["client connections at the proxy"],
                "upstream opened": counts["connections the proxy opened"],
            }
    if "keep-alive" in m:
        panels["502s, paced at the replica's timeout"] = {
            name.replace(", edge idle", "\nidle"): c["502s"]
            for name, c in m["keep-alive"]["clients"].items()
        }
    if "sessions" in m:
        panels["carts lost"] = {
            short(name): c["carts lost"] for name, c in m["sessions"]["cases"].items()
        }
    if not panels:
        return "none"
    return str(save_bar_charts(RESULTS_DIR / CHART, "proxies: what was counted", panels,
                               "count"))  # fmt: skip


def short(case: str) -> str:
    """A sessions case as a bar label, one line per part: "memory, round robin" -> "memory/RR"."""
    words = {"round robin": "RR", "a replica killed": "+kill", "a replica added": "+add"}
    return "\n".join(words.get(part, part) for part in case.split(", "))
