"""What checking a token costs: POST /quotes with none, checked in the api, checked at
nginx; and what a client certificate adds to a full TLS handshake.

The same paced requests (under any replica's capacity: latency, not queueing)
through nginx's TLS port to three paths: the default replicas with no token
(/quotes), api-auth checking the token itself (/secure/quotes), and nginx
checking it with auth_request before the default replicas (/edge/quotes: one
subrequest to api-auth's verifier per request). Rounds interleave the paths;
the report gives medians, their ratios to no token, and the CPU time nginx,
the api replicas, api-auth and pricing spent per request (their cgroups'
counters), which a busy machine skews far less than latency.

Handshakes: from inside the network (the default api container), new TLS 1.3
connections one after another, each a full handshake (no resumption) and one
GET /healthz, for HANDSHAKE_S: to api-tls, which asks for no client certificate,
and to api-auth, which requires one (nginx's, presented here). Both are the api
under uvicorn with the same certificate type (ECDSA P-256, from the sandbox's
CA); api-auth also logs each connection's client. Handshakes per second, and the
server's CPU time per handshake from its cgroup.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from rich.table import Table

from bench.support.narrate import measuring
from comms_sandbox import auth, cgroups, config, docker
from comms_sandbox.certs import DEFAULT_DIR, TlsFiles
from comms_sandbox.compose import start_services
from scenarios import auth as lesson
from scenarios.auth import mutual_tls
from scenarios.load import Call, burst

NAME = "auth"  # python -m bench auth
LESSON = "auth"

REQUESTS = 150
RATE_PER_S = 20.0
ROUNDS = 3
ROUND_S = REQUESTS / RATE_PER_S
PATHS = {"no token": "/quotes", "checked in api-auth": "/secure/quotes",
         "checked at nginx": "/edge/quotes"}  # fmt: skip


def expected_s() -> float:
    return ROUNDS * (len(PATHS) * ROUND_S + len(HANDSHAKE_TARGETS) * HANDSHAKE_S)


# Where a request's CPU goes on any of the three paths (pricing prices each quote too).
COUNTED_SERVICES = ("proxy", "api", "api-auth", "pricing")


def counted_containers() -> list[str]:
    return [c.name for service in COUNTED_SERVICES for c in docker.containers(service)]


def cpu_seconds(names: list[str]) -> float:
    """CPU time the containers have used, from their cgroups."""
    return sum(cgroups.cpu_seconds(name) for name in names)


def measure(path: str, token: str | None, names: list[str]) -> dict[str, float]:
    """Latency percentiles of REQUESTS paced POSTs, and the CPU ms the services spent on
    each (background work, healthchecks included: the same on every path)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    before = cpu_seconds(names)
    result = burst(config.proxy_url(), [Call(path, "POST", headers, lesson.QUOTE)] * REQUESTS, 1,
                   rate_per_s=RATE_PER_S)  # fmt: skip
    if result.failures():
        raise RuntimeError(f"{len(result.failures())} failed requests to {path}")
    cpu_ms = (cpu_seconds(names) - before) * 1000 / REQUESTS
    return result.latency_ms() | {"cpu_ms": cpu_ms}


HANDSHAKE_S = 3.0
# Each server: its service, port, and whose certificate the client presents (none).
HANDSHAKE_TARGETS = {
    "api-tls, no client certificate": ("api-tls", 8443, "no certificate"),
    "api-auth, client certificate required": ("api-auth", 8443, "ours"),
}
# Run in the default api container: full handshakes (a new context's connections carry
# no session to resume) and one request each, for argv[3] seconds; prints JSON.
HANDSHAKES = (
    mutual_tls.CLIENT_CONTEXT
    + """
import json, socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
context = client_context("PROBE")
context.minimum_version = ssl.TLSVersion.TLSv1_3
request = f"GET /healthz HTTP/1.1\\r\\nHost: {host}\\r\\nConnection: close\\r\\n\\r\\n".encode()
done, resumed, started = 0, 0, time.perf_counter()
while time.perf_counter() - started < seconds:
    with socket.create_connection((host, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(request)
            if not tls.recv(12).startswith(b"HTTP/1.1 200"):
                raise SystemExit("not served")
            resumed += tls.session_reused
    done += 1
print(json.dumps({"handshakes": done, "resumed": resumed,
                  "seconds": time.perf_counter() - started}))
"""
)


def handshakes(name: str, files: TlsFiles) -> dict[str, float]:
    """Full handshakes per second to one server, and its CPU ms per handshake."""
    service, port, mode = HANDSHAKE_TARGETS[name]
    (server, *_) = docker.containers(service)
    pair = mutual_tls.client_pair(mode, "api-auth", files)
    environment = mutual_tls.pair_environment(files, pair, "PROBE")
    before = cgroups.cpu_seconds(server.name)
    out, err = mutual_tls.python_in_api(
        HANDSHAKES, [service, str(port), str(HANDSHAKE_S)], environment
    )
    if not out:
        raise RuntimeError(f"handshakes to {service} failed: {err[-300:]}")
    counted = json.loads(out)
    if counted["resumed"]:
        raise RuntimeError(f"{counted['resumed']} handshakes to {service} were resumed")
    cpu_ms = (cgroups.cpu_seconds(server.name) - before) * 1000 / counted["handshakes"]
    return {"per_s": counted["handshakes"] / counted["seconds"], "server_cpu_ms": cpu_ms}


def handshake_rounds() -> dict[str, dict[str, float]]:
    files = TlsFiles.in_directory(DEFAULT_DIR)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in HANDSHAKE_TARGETS}
    for round_ in range(1, ROUNDS + 1):
        for name in HANDSHAKE_TARGETS:
            with measuring(f"handshakes: {name}", round_, ROUNDS, HANDSHAKE_S):
                runs[name].append(handshakes(name, files))
    return {
        name: {key: round(statistics.median(r[key] for r in results), 3)
               for key in ("per_s", "server_cpu_ms")}
        for name, results in runs.items()
    }  # fmt: skip


def run() -> dict[str, Any]:
    start_services(lesson.SERVICES)  # stopped after, as every lesson's (bench/__main__.py)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in PATHS}
    names = counted_containers()
    for round_ in range(1, ROUNDS + 1):
        token = auth.token("C-001", "quotes")  # lives 5 minutes: one per round
        for name, path in PATHS.items():
            with measuring(name, round_, ROUNDS, ROUND_S):
                runs[name].append(measure(path, None if name == "no token" else token, names))
    medians = {
        name: {key: round(statistics.median(r[key] for r in results), 3)
               for key in ("p50", "p99", "cpu_ms")}
        for name, results in runs.items()
    }  # fmt: skip
    base = medians["no token"]
    shaken = handshake_rounds()
    without, required = (shaken[name] for name in HANDSHAKE_TARGETS)
    return {
        "tool": f"{REQUESTS} POST /quotes at {RATE_PER_S:.0f}/s, one connection, {ROUNDS} rounds",
        "handshakes": shaken,
        "handshake_ratios": {
            "per_s, required to none": round(required["per_s"] / without["per_s"], 2),
            "server CPU, required to none": round(
                required["server_cpu_ms"] / without["server_cpu_ms"], 2
            ),
        },
        "latency_ms": medians,
        "ratios_to_no_token": {
            name: {p: round(m[p] / base[p], 2) for p in ("p50", "p99", "cpu_ms")}
            for name, m in medians.items()
        },
    }


def tables(result: dict[str, Any]) -> list[Table]:
    table = Table(title=f"token checks: {result['tool']} (medians)")
    columns = ("path", "p50 (ms)", "p99 (ms)", "CPU ms/req", "p50 ratio", "p99 ratio", "CPU ratio")
    for column in columns:
        table.add_column(column, justify="right")
    for name, latency in result["latency_ms"].items():
        ratio = result["ratios_to_no_token"][name]
        table.add_row(name, *(f"{latency[k]:.2f}" for k in ("p50", "p99", "cpu_ms")),
                      *(f"{ratio[k]:.2f}" for k in ("p50", "p99", "cpu_ms")))  # fmt: skip
    return [table, handshake_table(result)]


def handshake_table(result: dict[str, Any]) -> Table:
    ratios = result["handshake_ratios"]
    table = Table(
        title=f"full TLS 1.3 handshakes, one at a time for {HANDSHAKE_S:.0f} s (medians of "
        f"{ROUNDS}); required to none: {ratios['per_s, required to none']}x per s, "
        f"{ratios['server CPU, required to none']}x server CPU"
    )
    for column in ("server", "handshakes/s", "server CPU ms/handshake"):
        table.add_column(column, justify="right")
    for name, measured in result["handshakes"].items():
        table.add_row(name, f"{measured['per_s']:.0f}", f"{measured['server_cpu_ms']:.2f}")
    return table
