"""Load balancing: nginx spreads requests over the api replicas, by several methods.

Every method has its own path on the proxy (proxy/load_balancing.py), in
front of the same three replicas; each response names its replica
(X-Served-By). The scenario sends a bounded burst through each and counts.

What to look at:
- round robin: an even split; weighted 3:1:1: 60/20/20 for api-1/2/3;
- least connections: with api-1 made slow (GET /delay?ms=250&only=HOST),
  it gets far fewer requests than the fast ones, where round robin keeps
  giving it a third (compare the durations and p99);
- hash: every client key stays on one replica, and the keys spread;
- L7 versus L4: one kept-alive connection sees all replicas through the HTTP
  proxy and a single one through the TCP proxy (port 8081), which also
  cannot route by path or tell the replica who the client is;
- failover: a replica killed under load costs no GET; the report says when
  it stopped getting traffic and when it came back, and how POSTs are treated;
- scaling: a fourth replica answers through the proxy seconds after
  `docker compose up --scale api=4`, with no proxy reload.
A bar chart of the splits is saved as results/load-balancing.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from comms_sandbox import config, docker
from comms_sandbox.health import require_proxy
from scenarios import narration
from scenarios.charts import save_bar_charts
from scenarios.load_balancing import failover, layers, methods, scaling
from scenarios.load_balancing.render import render
from scenarios.result import ScenarioResult, all_hold

NAME = "load-balancing"
ORDER = 20  # place in the syllabus
# What `make up LESSON=load-balancing` starts: nginx and the three api replicas it balances.
SERVICES = ("proxy",)
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "proxy/site.py",
    "proxy/nginx.conf",
    "services/api/",
    "images/loadgen/",
)
PARTS = ("methods", "layers", "failover", "scaling")
CHART = "load-balancing.png"

__all__ = ["NAME", "PARTS", "render", "run"]


def answering_replicas(probes: int = 30) -> list[str]:
    """Hostnames that answer /whoami through the proxy."""
    with httpx.Client(
        base_url=config.proxy_url(), timeout=10, verify=config.tls_context()
    ) as client:
        return sorted({client.get("/whoami").headers["x-served-by"] for _ in range(probes)})


def run(parts: tuple[str, ...] = PARTS) -> ScenarioResult:
    """Run the chosen parts; failover and scaling change the stack, then restore it."""
    require_proxy()
    names = docker.names_by_hostname("api")
    metrics: dict[str, Any] = {"replicas": {h: names.get(h, h) for h in answering_replicas()}}
    if "methods" in parts:
        with narration.part("methods"):
            metrics["methods"] = methods.run(list(metrics["replicas"]), names)
    if "layers" in parts:
        with narration.part("layers"):
            metrics["layers"] = layers.run(names)
    if "failover" in parts:
        with narration.part("failover"):
            metrics["failover"] = failover.run(names)
    if "scaling" in parts:
        with narration.part("scaling"):
            metrics["scaling"] = scaling.run()
    metrics["chart"] = str(save_chart(metrics))
    metrics["checks"] = checks(metrics)
    return ScenarioResult(NAME, all_hold(metrics["checks"]), metrics)


def checks(metrics: dict[str, Any]) -> dict[str, bool]:
    """Each part's verdict (one per balancing method), named after it."""
    found = {f"methods: {method}": r["holds"] for method, r in metrics.get("methods", {}).items()}
    return found | {part: metrics[part]["holds"] for part in PARTS[1:] if part in metrics}


def save_chart(metrics: dict[str, Any]) -> Path:
    panels: dict[str, dict[str, int]] = {}
    for method, report in metrics.get("methods", {}).items():
        panels[method] = report["per_replica"]
        if "contrast_round_robin" in report:
            panels["round-robin, same slow replica"] = report["contrast_round_robin"]["per_replica"]
        if "keys_per_replica" in report:
            panels["hash: client keys per replica"] = report["keys_per_replica"]
    if "failover" in metrics:
        panels["failover (api-2 killed)"] = metrics["failover"]["per_replica"]
    if "scaling" in metrics:
        panels[f"scaled to {metrics['scaling']['scaled_to']}"] = metrics["scaling"][
            "per_replica_scaled"
        ]
    path = config.RESULTS_DIR / CHART
    return save_bar_charts(
        path, "requests per api replica, by balancing method", panels, "requests"
    )
