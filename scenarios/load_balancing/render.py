"""The load-balancing report: a table with bars per method, then L4/L7, failover, scaling."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from scenarios.report import counts_table, latency_table, records_table, verdict
from scenarios.result import ScenarioResult


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    replicas = ", ".join(f"{name} ({host})" for host, name in m["replicas"].items())
    console.print(f"replicas answering through the proxy: {replicas}")
    if "methods" in m:
        _methods(m["methods"], console)
    if "layers" in m:
        _layers(m["layers"], console)
    if "failover" in m:
        _failover(m["failover"], console)
    if "scaling" in m:
        _scaling(m["scaling"], console)
    console.print(f"chart: {m['chart']}")


def _methods(methods: dict[str, dict[str, Any]], console: Console) -> None:
    for method, r in methods.items():
        title = (
            f"{method}: {r['requests']} requests, {r['concurrency']} at a time, {r['duration_s']} s"
        )
        console.print(counts_table(title, "replica", r["per_replica"]))
        console.print(f"  {_method_claim(method, r)}: {verdict(r['holds'])}")
        if "contrast_round_robin" in r:
            rr = r["contrast_round_robin"]
            console.print(
                counts_table(
                    f"contrast, round robin with the same slow replica, {rr['duration_s']} s",
                    "replica",
                    rr["per_replica"],
                )
            )
    rows = {method: r["latency_ms"] for method, r in methods.items()}
    if "least-conn" in methods:
        rows["round-robin (slow replica)"] = methods["least-conn"]["contrast_round_robin"][
            "latency_ms"
        ]
    console.print(latency_table("latency through the proxy", rows))


def _method_claim(method: str, r: dict[str, Any]) -> str:
    if method == "least-conn":
        return f"slow {r['slow_replica']} (+{r['delay_ms']} ms) gets fewer than each fast replica"
    if method == "hash":
        spread = ", ".join(f"{k}: {n}" for k, n in r["keys_per_replica"].items())
        return (
            f"{r['keys']} keys x {r['requests_per_key']}: keys per replica {spread}; "
            f"keys seen on 2+ replicas: {len(r['keys_on_more_than_one_replica'])}"
        )
    expected = ", ".join(f"{k} {share:.0%}" for k, share in r["expected_share"].items())
    return f"expected {expected}; largest gap {r['max_deviation']:.1%} (limit 10%)"


def _layers(layers: dict[str, Any], console: Console) -> None:
    table = Table(title="L7 (http) versus L4 (stream), same replicas")
    table.add_column("")
    for name in ("L7", "L4"):
        table.add_column(f"{name} {layers[name]['url']}")
    rows = {
        "one keep-alive connection: replicas seen": lambda s: ", ".join(
            s["one_keepalive_connection"]["replicas"]
        ),
        "new connection per request": lambda s: " ".join(s["new_connection_per_request"]),
        "replica's TCP peer": lambda s: s["replica_sees"]["peer"],
        **{
            f"replica sees {header}": (
                lambda s, h=header: str(s["replica_sees"]["proxy_headers"][h])
            )
            for header in ("x-forwarded-for", "x-request-id")
        },
        "GET /lb/weighted/whoami": lambda s: (
            f"{s['path_routing']['status']} (method: {s['path_routing']['lb_method']})"
        ),
    }
    for label, cell in rows.items():
        table.add_row(label, cell(layers["L7"]), cell(layers["L4"]))
    console.print(table)
    console.print(
        f"  L4 pins a connection, L7 balances requests and routes: {verdict(layers['holds'])}"
    )


def _failover(f: dict[str, Any], console: Console) -> None:
    events = ", ".join(f"{name} at {t:.2f} s" for name, t in f["events_s"].items())
    console.print(
        f"[bold]failover[/]: {f['requests']} requests ({f['posts']} POST), "
        f"{f['concurrency']} at a time; "
        f"{f['victim']}: {events}"
    )
    console.print(counts_table("requests per replica during failover", "replica", f["per_replica"]))
    console.print(
        f"  failed GETs: [bold]{f['failed_gets']}[/]; failed POSTs: {f['failed_posts']}; "
        f"retried on another replica by nginx: {f['retried_by_proxy']} "
        f"({f.get('second_pass_after_peer_set_change', 0)} in a second pass, nginx#1656); "
        f"cut mid-response by the kill and sent again by the client: "
        f"{len(f.get('cut_mid_response_retried_by_client', []))} (resent away from the kill: "
        f"{len(f.get('resent_not_at_the_kill', []))})\n"
        f"  {f['victim']} last answered at {f['victim_last_served_s']} s, answered while down: "
        f"{f['victim_served_while_down']}, rejoined at {f['victim_rejoined_s']} s\n"
        f"  latency p50 {f['latency_ms']['p50']} ms, p99 {f['latency_ms']['p99']} ms, "
        f"max {f['latency_ms']['max']} ms\n"
        f"  POSTs: {f['post_policy']}"
    )
    if f["failures"]:
        console.print(
            records_table(
                "failed requests", f["failures"], ("method", "status", "upstream", "error")
            )
        )
    console.print(f"  no GET lost, no traffic to the dead replica: {verdict(f['holds'])}")


def _scaling(s: dict[str, Any], console: Console) -> None:
    joined = ", ".join(
        f"{name} after {t} s" for name, t in s["answering_through_proxy_after_s"].items()
    )
    console.print(
        f"[bold]scaling[/] to {s['scaled_to']} replicas: healthy after {s['healthy_after_s']} s; "
        f"answering through the proxy: {joined}"
    )
    console.print(counts_table(f"scaled to {s['scaled_to']}", "replica", s["per_replica_scaled"]))
    console.print(counts_table("scaled back", "replica", s["per_replica_after_scaling_back"]))
    console.print(f"  the pool follows the scale without a proxy reload: {verdict(s['holds'])}")
