"""The auth lesson's mutual TLS: api-auth prices quotes on pricing-mtls, which requires a
client certificate the sandbox's CA signed (services/pricing/mutual_tls.py).

From inside the network (api-auth's container, where a service would connect), the
run opens TLS connections to pricing-mtls:50052 without a client certificate, with
one from another CA, and with api-auth's own; the first two are refused in the
handshake (the server's log says why; the client only sees the connection close),
the third is served. Then, while a client keeps asking api-auth for
quotes, the host re-issues pricing-mtls's certificate and api-auth's: a new
connection is served the new one, and not one quote fails.
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
    DEFAULT_DIR,
    PRICING_MTLS_NAME,
    TlsFiles,
    reissue,
    throwaway_client,
)
from scenarios.auth import verdicts

TARGET = ("pricing-mtls", 50052)
CLIENT_DIR = "/etc/sandbox-tls/api-client"  # api-auth's (scenarios/auth/compose.yaml)
# gRPC core's log line for a refused handshake, and BoringSSL's reason in it.
HANDSHAKE_FAILED = re.compile(r"Handshake failed .*?OPENSSL_internal:([A-Z_]+)")
REQUEST_EVERY_S = 0.1
ROTATION_WAIT_S = 3.0  # the api checks its certificate's files every second

# Run in api-auth: a TLS connection to pricing-mtls as gRPC makes it (ALPN h2), with
# no client certificate, api-auth's own, or the one in PROBE_CERT/PROBE_KEY; then the
# HTTP/2 preface, and one read: in TLS 1.3 the server judges the client's
# certificate after the handshake's last flight, so its refusal arrives as an alert
# on that read. Prints "served <server certificate serial>" or "refused <reason>".
PROBE = """
import os, socket, ssl, sys, tempfile
mode, host, port, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
context = ssl.create_default_context(cafile=f"{folder}/ca.crt")
context.set_alpn_protocols(["h2"])
if mode == "ours":
    context.load_cert_chain(f"{folder}/tls.crt", f"{folder}/tls.key")
elif mode == "another CA":
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("PROBE_CERT", "PROBE_KEY"):
            with open(f"{scratch}/{name}", "w") as out:
                out.write(os.environ[name])
        context.load_cert_chain(f"{scratch}/PROBE_CERT", f"{scratch}/PROBE_KEY")
try:
    with socket.create_connection((host, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n")
            if not tls.recv(9):
                raise ssl.SSLError("closed with no answer")
            print("served", tls.getpeercert()["serialNumber"].lower().lstrip("0"))
except (ssl.SSLError, OSError) as error:
    print("refused", getattr(error, "reason", None) or error)
"""


def probe(mode: str) -> dict[str, str]:
    """One connection from api-auth; the other CA's pair travels in docker exec's
    environment."""
    (api, *_) = docker.containers("api-auth")
    cert, key = throwaway_client()
    done = subprocess.run(
        ["docker", "exec", "-e", "PROBE_CERT", "-e", "PROBE_KEY", api.name, "python", "-c",
         PROBE, mode, TARGET[0], str(TARGET[1]), CLIENT_DIR],
        env=os.environ | {"PROBE_CERT": cert, "PROBE_KEY": key},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    outcome, _, detail = done.stdout.strip().partition(" ")
    return {"outcome": outcome or "error", "detail": (detail or done.stderr.strip())[-200:]}


def handshake_failures(since: str) -> list[str]:
    """The reason of each handshake pricing-mtls refused since `since`, from its log."""
    (server, *_) = docker.containers("pricing-mtls")
    return [
        reason
        for text in docker.log_streams(server.name, since)
        for reason in HANDSHAKE_FAILED.findall(text)
    ]


def quotes_under_rotation(send: Any) -> dict[str, Any]:
    """Quotes through api-auth (priced over mutual TLS) while both pairs are re-issued."""
    files = TlsFiles.in_directory(DEFAULT_DIR)
    statuses: Counter[int] = Counter()
    with httpx.Client(verify=config.tls_context(), timeout=10) as http:
        before = probe("ours")
        deadline = time.monotonic() + ROTATION_WAIT_S
        while time.monotonic() < deadline:
            statuses[send(http)] += 1
            time.sleep(REQUEST_EVERY_S)
        now = datetime.now(UTC)
        server = reissue(files, PRICING_MTLS_NAME, now)
        reissue(files, "api-auth", now)
        deadline = time.monotonic() + ROTATION_WAIT_S * 2
        while time.monotonic() < deadline:
            statuses[send(http)] += 1
            time.sleep(REQUEST_EVERY_S)
        after = probe("ours")
    lifetime = server.not_valid_after_utc - server.not_valid_before_utc
    return {
        "served_before": before,
        "served_after": after,
        "new_serial": format(server.serial_number, "x"),
        "lifetime_h": round(lifetime.total_seconds() / 3600, 2),
        "quotes": {str(k): v for k, v in sorted(statuses.items())},
    }


def mutual_tls(send: Any) -> dict[str, Any]:
    """`send(http)`: a quote through api-auth; its status."""
    since = str(int(time.time()) - 1)
    probes = {mode: probe(mode) for mode in ("no certificate", "another CA", "ours")}
    rotation = quotes_under_rotation(send)
    failed = handshake_failures(since)
    return {
        "probes": probes,
        "refused_handshakes_logged": failed,
        "rotation": rotation,
        "holds": verdicts.mutual_tls_holds(probes, failed, rotation),
    }
