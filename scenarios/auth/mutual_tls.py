"""The auth lesson's mutual TLS, on two hops: nginx -> api-auth (HTTPS, api-auth
terminates TLS itself: services/api/tls_server.py) and api-auth -> pricing-mtls
(gRPC: services/pricing/mutual_tls.py). Each server requires a client certificate
the sandbox's CA signed.

From inside the network (the default api container, where any service could
connect), the run opens TLS connections to each server without a client
certificate, with one from another CA, and with the sandbox's (nginx's for
api-auth, api-auth's for pricing); the first two are refused in the handshake
(pricing's log says why; api-auth closes with no answer, and logs no client), the
third is served. Then, while a client keeps asking for quotes through nginx, the
host re-issues all three pairs and nginx reloads: a new connection to each server
is served its new certificate, api-auth sees nginx present its new one, and not
one quote fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx

from comms_sandbox import config, docker
from comms_sandbox.certs import (
    CLIENT_NAME,
    DEFAULT_DIR,
    PRICING_MTLS_NAME,
    PROXY_CLIENT_NAME,
    TlsFiles,
    reissue,
    throwaway_client,
)
from scenarios.auth import verdicts

# Each server: where it listens, the protocol its clients speak (ALPN), and the
# sandbox client certificate it is shown.
SERVERS = {
    "pricing-mtls": {"port": 50052, "alpn": "h2", "ours": CLIENT_NAME},
    "api-auth": {"port": 8443, "alpn": "http/1.1", "ours": PROXY_CLIENT_NAME},
}
# gRPC core's log line for a refused handshake, and BoringSSL's reason in it.
HANDSHAKE_FAILED = re.compile(r"Handshake failed .*?OPENSSL_internal:([A-Z_]+)")
# api-auth's log line for each connection it accepted (services/api/tls_server.py).
PRESENTED = re.compile(r"mutual TLS: client (\S+) presented serial ([0-9a-f]+)")
REQUEST_EVERY_S = 0.1
ROTATION_WAIT_S = 3.0  # the servers and the api check their files every second

# Python for the scripts run in a container: an SSL client context that verifies the
# server against $<prefix>_CA and presents $<prefix>_CERT and _KEY when they are given
# (the pair travels in docker exec's environment; ssl reads pairs from files only).
CLIENT_CONTEXT = """
import os, ssl, tempfile
def client_context(prefix):
    context = ssl.create_default_context(cadata=os.environ[prefix + "_CA"])
    if os.environ.get(prefix + "_CERT"):
        with tempfile.TemporaryDirectory() as scratch:
            for name in ("CERT", "KEY"):
                with open(f"{scratch}/{name}", "w") as out:
                    out.write(os.environ[f"{prefix}_{name}"])
            context.load_cert_chain(f"{scratch}/CERT", f"{scratch}/KEY")
    return context
"""

# Run in the default api container: a TLS connection to a server as its clients make
# it (ALPN h2 or http/1.1), presenting PROBE_CERT/PROBE_KEY if given; the server is
# verified against PROBE_CA. Then the protocol's first bytes (the HTTP/2 preface, or
# a request) and one read: in TLS 1.3 the server judges the client's certificate
# after the handshake's last flight, so its refusal arrives on that read (an alert,
# or the connection closed). Prints "served <server certificate serial>" or
# "refused <reason>".
PROBE = (
    CLIENT_CONTEXT
    + """
import socket, sys
host, port, alpn = sys.argv[1], int(sys.argv[2]), sys.argv[3]
context = client_context("PROBE")
context.set_alpn_protocols([alpn])
request = f"GET /healthz HTTP/1.1\\r\\nHost: {host}\\r\\nConnection: close\\r\\n\\r\\n"
first = b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n" if alpn == "h2" else request.encode()
try:
    with socket.create_connection((host, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(first)
            if not tls.recv(9):
                raise ConnectionError("closed with no answer")
            print("served", tls.getpeercert()["serialNumber"].lower().lstrip("0"))
except (ssl.SSLError, OSError) as error:
    print("refused", getattr(error, "reason", None) or error)
"""
)


def client_pair(mode: str, server: str, files: TlsFiles) -> tuple[str, str]:
    """The certificate and key a probe presents: none, another CA's, or the sandbox's."""
    if mode == "no certificate":
        return "", ""
    if mode == "another CA":
        return throwaway_client()
    folder = {CLIENT_NAME: files.client_cert, PROXY_CLIENT_NAME: files.proxy_client_cert}[
        str(SERVERS[server]["ours"])
    ].parent
    return (folder / "tls.crt").read_text(), (folder / "tls.key").read_text()


def python_in_api(script: str, args: list[str], environment: dict[str, str]) -> tuple[str, str]:
    """`script` run by Python in the default api container (inside the network, as any
    service there could); `environment` travels in docker exec's environment, never on
    a command line. Its standard output and error."""
    (api, *_) = docker.containers("api")
    names = [flag for name in environment for flag in ("-e", name)]
    done = subprocess.run(
        ["docker", "exec", *names, api.name, "python", "-c", script, *args],
        env=os.environ | environment, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return done.stdout.strip(), done.stderr.strip()


def pair_environment(files: TlsFiles, pair: tuple[str, str], prefix: str) -> dict[str, str]:
    cert, key = pair
    return {f"{prefix}_CA": files.ca_cert.read_text(), f"{prefix}_CERT": cert,
            f"{prefix}_KEY": key}  # fmt: skip


def probe(server: str, mode: str, files: TlsFiles) -> dict[str, str]:
    """One connection to `server` from the default api container."""
    where = SERVERS[server]
    environment = pair_environment(files, client_pair(mode, server, files), "PROBE")
    out, err = python_in_api(PROBE, [server, str(where["port"]), str(where["alpn"])], environment)
    outcome, _, detail = out.partition(" ")
    return {"outcome": outcome or "error", "detail": (detail or err)[-200:]}


def probes(files: TlsFiles) -> dict[str, dict[str, dict[str, str]]]:
    modes = ("no certificate", "another CA", "ours")
    return {server: {mode: probe(server, mode, files) for mode in modes} for server in SERVERS}


def handshake_failures(since: str) -> list[str]:
    """The reason of each handshake pricing-mtls refused since `since`, from its log."""
    (server, *_) = docker.containers("pricing-mtls")
    return [
        reason
        for text in docker.log_streams(server.name, since)
        for reason in HANDSHAKE_FAILED.findall(text)
    ]


def presented_to_api_auth(since: str) -> list[tuple[str, str]]:
    """(client name, certificate serial) of each connection api-auth accepted."""
    (server, *_) = docker.containers("api-auth")
    return [hit for text in docker.log_streams(server.name, since)
            for hit in PRESENTED.findall(text)]  # fmt: skip


def reload_nginx() -> None:
    """nginx reads its client certificate when it loads its configuration: a reload
    starts new workers with the new pair while the old ones finish their requests."""
    for proxy in docker.containers("proxy"):
        docker.run_in(proxy.name, "nginx", "-s", "reload")


def quotes_for(seconds: float, send: Any, http: httpx.Client, statuses: Counter[int]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        statuses[send(http)] += 1
        time.sleep(REQUEST_EVERY_S)


def quotes_under_rotation(send: Any, files: TlsFiles) -> dict[str, Any]:
    """Quotes through nginx and api-auth (priced over mutual TLS) while the three pairs
    are re-issued and nginx reloads."""
    statuses: Counter[int] = Counter()
    with httpx.Client(verify=config.tls_context(), timeout=10) as http:
        before = {server: probe(server, "ours", files) for server in SERVERS}
        quotes_for(ROTATION_WAIT_S, send, http, statuses)
        now = datetime.now(UTC)
        issued = {name: reissue(files, name, now)
                  for name in (PRICING_MTLS_NAME, CLIENT_NAME, PROXY_CLIENT_NAME)}  # fmt: skip
        reloaded = str(int(time.time()))
        reload_nginx()
        quotes_for(ROTATION_WAIT_S * 2, send, http, statuses)
        after = {server: probe(server, "ours", files) for server in SERVERS}
    lifetime = (
        issued[PRICING_MTLS_NAME].not_valid_after_utc
        - issued[PRICING_MTLS_NAME].not_valid_before_utc
    )
    return {
        "served_before": before,
        "served_after": after,
        "new_serials": {name: format(cert.serial_number, "x") for name, cert in issued.items()},
        "nginx_presented_after": sorted(
            {serial for name, serial in presented_to_api_auth(reloaded) if name == "proxy"}
        ),
        "lifetime_h": round(lifetime.total_seconds() / 3600, 2),
        "quotes": {str(k): v for k, v in sorted(statuses.items())},
    }


def mutual_tls(send: Any) -> dict[str, Any]:
    """`send(http)`: a quote through nginx and api-auth; its status."""
    files = TlsFiles.in_directory(DEFAULT_DIR)
    since = str(int(time.time()) - 1)
    tried = probes(files)
    rotation = quotes_under_rotation(send, files)
    failed = handshake_failures(since)
    return {
        "probes": tried,
        "refused_handshakes_logged": failed,
        "rotation": rotation,
        "holds": verdicts.mutual_tls_holds(tried, failed, rotation),
    }
