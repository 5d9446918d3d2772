"""The client's address through a layer-4 proxy: lost, unless the PROXY protocol carries it.

nginx's stream proxy opens its own TCP connection to the replica, so the
replica's peer is nginx. With `proxy_protocol on`, nginx first sends one
line, "PROXY TCP4 <client> <nginx> <client port> <nginx port>", and the
replica (services/catalog/whoami.py, port 9001) reads the client from it.
Compared with the address nginx itself logged for the same connection.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from comms_sandbox import docker, proxies
from comms_sandbox.ports import EDGE_L4, EDGE_PROXY_PROTOCOL, HOST


def run() -> dict[str, Any]:
    edge = proxies.container("edge")
    since = proxies.now()
    answers = {"without": ask(EDGE_L4.port), "with PROXY protocol": ask(EDGE_PROXY_PROTOCOL.port)}
    time.sleep(0.3)  # nginx logs a stream session when it ends
    logged, _ = proxies.logs(edge, since)
    nginx_saw = {line["port"]: line["remote_addr"] for line in logged if "port" in line}
    replica_logged = logged_by_replica(answers["with PROXY protocol"], since)
    measured = {"edge address": proxies.address_on(edge, "_back"), "answers": answers,
                "nginx saw": {"without": nginx_saw.get(8491), "with PROXY protocol":
                              nginx_saw.get(8492)},
                "replica logged": replica_logged}  # fmt: skip
    return {**measured, "holds": holds(measured)}


def ask(port: int) -> dict[str, Any]:
    with socket.create_connection((HOST, port), timeout=5) as connection:
        return json.loads(connection.makefile().readline())


def logged_by_replica(answer: dict[str, Any], since: str) -> str:
    """The replica's own log line for that answer (it logs each one on stdout)."""
    name = docker.names_by_hostname("catalog").get(answer.get("replica", ""), "")
    lines = docker.logs(name, since).splitlines() if name else []
    return next((line for line in reversed(lines) if line.startswith("whoami:")), "")


def holds(m: dict[str, Any]) -> dict[str, bool]:
    without, proxied = m["answers"]["without"], m["answers"]["with PROXY protocol"]
    return {
        "without the PROXY protocol the replica sees the proxy's address":
            without.get("client") == m["edge address"],
        "with it, the replica sees and logs the client's address, as nginx saw it":
            proxied.get("client") == m["nginx saw"]["with PROXY protocol"]
            and proxied.get("client") != m["edge address"]
            and f'"client": "{proxied.get("client")}"' in m["replica logged"],
    }  # fmt: skip
