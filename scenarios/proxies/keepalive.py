"""Keep-alive timeouts: each hop must give up on an idle connection before the next one does.

A catalog replica (uvicorn) closes a connection left idle for 5 s. nginx keeps
idle upstream connections for its keepalive_timeout: the right setting (4 s)
closes them first; the wrong one (60 s, nginx's default) still holds them
when the replica closes them, and a request nginx sends on one in that moment
is lost. The window is as long as the request takes to reach the replica: on
this machine's bridge, microseconds, so the part sends its requests through
Toxiproxy with LINK_LATENCY_MS on the way to the replica, as a network with
some distance would, and paces each client's requests to land in it.

Three clients at once, each on its own upstream pool: POSTs on the wrong
setting, GETs on the wrong setting, POSTs on the right one. Every outcome is
read from the edge's access log (status, upstream attempts) and error log
(nginx's reason).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from comms_sandbox import proxies, toxiproxy
from comms_sandbox.ports import EDGE, EDGE_TOXIPROXY, HOST
from proxy.proxies import REPLICA_IDLE_S, RIGHT_IDLE, WRONG_IDLE

LINK_LATENCY_MS = 40
# Each request leaves this long before the replica's idle timeout ends: it is
# still on its way (LINK_LATENCY_MS) when the replica closes the connection.
LEAD_S = 0.020
PACED = 3  # requests per client after the first
CLIENTS = {
    "POST, edge idle 60 s": ("POST", "/keepalive/wrong/touch"),
    "GET, edge idle 60 s": ("GET", "/keepalive/wrong-get/touch"),
    "POST, edge idle 4 s": ("POST", "/keepalive/right/touch"),
}
LOST_REASONS = ("upstream prematurely closed connection", "reset by peer")


def run() -> dict[str, Any]:
    since = proxies.now()
    distance = {"latency": LINK_LATENCY_MS}
    with (
        toxiproxy.clean(at=EDGE_TOXIPROXY),
        toxiproxy.toxic("catalog", "distance", "latency", distance, "upstream", at=EDGE_TOXIPROXY),
        ThreadPoolExecutor(len(CLIENTS)) as pool,
    ):
        sent = dict(zip(CLIENTS, pool.map(lambda c: paced(*CLIENTS[c]), CLIENTS), strict=True))
    time.sleep(0.5)  # the last log lines
    access, errors = proxies.logs(proxies.container("edge"), since)
    clients = {name: from_log(path, access, errors, sent[name])
               for name, (_, path) in CLIENTS.items()}  # fmt: skip
    return {"settings": {"replica idle": f"{REPLICA_IDLE_S}s", "right": RIGHT_IDLE,
                         "wrong": WRONG_IDLE, "link latency ms": LINK_LATENCY_MS,
                         "lead ms": LEAD_S * 1000},
            "clients": clients, "holds": holds(clients)}  # fmt: skip


def paced(method: str, path: str) -> list[dict[str, Any]]:
    """One request to open a connection, then PACED more, each sent LEAD_S before the
    replica would close the connection the previous one left idle; each with the idle
    time it really followed (a busy machine may send late)."""
    sent: list[dict[str, Any]] = []
    finished: float | None = None
    with httpx.Client(base_url=f"http://{HOST}:{EDGE.port}", timeout=10) as client:
        for _ in range(PACED + 1):
            if finished is not None:
                proxies.wait_until(finished + REPLICA_IDLE_S - LEAD_S)
            started = time.monotonic()
            status = client.request(method, path).status_code
            idle = None if finished is None else round(started - finished, 4)
            sent.append({"status": status, "idle_before_s": idle})
            finished = time.monotonic()
    return sent


def from_log(path: str, access: list[dict[str, Any]], errors: list[str],
             sent: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    lines = [line for line in access if f" {path} " in line.get("request", "")]
    reasons = [reason for line in errors for reason in LOST_REASONS
               if reason in line and path in line]  # fmt: skip
    return {
        "client saw": [s["status"] for s in sent],
        "idle before each (s)": [s["idle_before_s"] for s in sent],
        "logged": [line["status"] for line in lines],
        "502s": sum(line["status"] == 502 for line in lines),
        "retried": sum("," in line.get("upstream_status", "") for line in lines),
        "upstream attempts": [line.get("upstream_status", "") for line in lines],
        "reasons": reasons,
    }


def holds(clients: dict[str, dict[str, Any]]) -> dict[str, bool]:
    wrong = clients["POST, edge idle 60 s"]
    wrong_get = clients["GET, edge idle 60 s"]
    right = clients["POST, edge idle 4 s"]
    return {
        "edge idle 60 s, replica 5 s: POSTs paced at the replica's timeout get 502s, "
        "with nginx's reason in its error log":
            wrong["502s"] >= 1 and len(wrong["reasons"]) >= wrong["502s"],
        "edge idle 4 s: the same POSTs get 0 502s":
            right["502s"] == 0 and len(right["logged"]) == PACED + 1,
        "a GET that meets a closed connection is sent again on a new one (no 502)":
            wrong_get["502s"] == 0 and wrong_get["retried"] >= 1,
    }  # fmt: skip
