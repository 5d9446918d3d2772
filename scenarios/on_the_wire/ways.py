"""The ways to HTTPS this lesson counts, one connection each, from the host to the proxy.

Each way opens a new connection to https://127.0.0.1:8443 and sends one GET /whoami
(HTTP/1.1 over TCP, HTTP/3 over QUIC), noting when it started on the wall clock so
that its connection can be found in the capture taken in the proxy's namespace
(the packets' timestamps come from the same kernel clock). A resumed way first
makes the session (or ticket) it resumes, on a connection of its own.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comms_sandbox import config, docker, kernel_counters, ports
from scenarios.http_versions.handshakes import quic
from scenarios.on_the_wire.tools import run_client

PATH = "/whoami"
READ = 65536
KEYLOG = "SSLKEYLOGFILE"  # openssl s_client takes it as -keylogfile


FASTOPEN = "TCP Fast Open + TLS 1.3"
FASTOPEN_PASSIVE = "TcpExt.TCPFastOpenPassive"  # the proxy's kernel: Fast Opens it served


@dataclass(frozen=True)
class Way:
    name: str
    transport: str  # "tcp" or "udp"
    # Round trips before the request leaves, and before its answer arrives, as the
    # protocols define them (RFC 5246, RFC 8446, RFC 9000/9001); the capture must agree.
    expected_before_request: int
    expected_before_answer: int


WAYS = (
    Way("TCP + TLS 1.2", "tcp", 3, 4),
    Way("TCP + TLS 1.2 resumed", "tcp", 2, 3),
    Way("TCP + TLS 1.3", "tcp", 2, 3),
    Way("TCP + TLS 1.3 resumed", "tcp", 2, 3),
    Way("TCP + TLS 1.3 0-RTT", "tcp", 1, 2),
    Way(FASTOPEN, "tcp", 1, 2),
    Way("QUIC", "udp", 1, 2),
    Way("QUIC 0-RTT", "udp", 0, 1),
)


def tls_context(version: ssl.TLSVersion) -> ssl.SSLContext:
    """Only `version`, HTTP/1.1: made when called, so that it reads SSLKEYLOGFILE then."""
    context = config.tls_context()
    context.minimum_version = context.maximum_version = version
    context.set_alpn_protocols(["http/1.1"])
    return context


def https_get(context: ssl.SSLContext, session: ssl.SSLSession | None) -> dict[str, Any]:
    """One connection, one GET, the answer's head read: what the client saw of it."""
    started = time.time()
    with socket.create_connection((ports.HOST, ports.PROXY_TLS.port), timeout=5) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with context.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
            tls.sendall(f"GET {PATH} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                        .encode())  # fmt: skip
            head = _read_head(tls)
            return {"started": started, "status": int(head.split()[1]), "version": tls.version(),
                    "resumed": tls.session_reused, "session": tls.session}  # fmt: skip


def _read_head(tls: ssl.SSLSocket) -> str:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(READ)
        if not chunk:
            break
        data += chunk
    return data.decode("latin-1")


def tcp_way(version: ssl.TLSVersion, resume: bool) -> Callable[[], dict[str, Any]]:
    def connect() -> dict[str, Any]:
        context = tls_context(version)
        session = https_get(context, None)["session"] if resume else None
        facts = https_get(context, session)
        del facts["session"]
        return facts

    return connect


def openssl_get(session: Path, early: bool) -> dict[str, Any]:
    """One GET with `openssl s_client` (Python's ssl cannot send TLS early data): a full
    handshake that saves its session, or, `early`, that session resumed with the GET
    as early data (RFC 8446 §2.3). nginx passes Early-Data: 1 on; the api would answer
    a POST sent that way with 425 (the http-versions lesson shows it over QUIC)."""
    request = f"GET {PATH} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    command = ["openssl", "s_client", "-connect", f"{ports.HOST}:{ports.PROXY_TLS.port}",
               "-servername", "localhost", "-CAfile", str(config.ca_cert()), "-verify_return_error",
               "-tls1_3", "-alpn", "http/1.1", "-ign_eof", *keylog_args()]  # fmt: skip
    if early:
        early_file = session.with_suffix(".early")
        early_file.write_text(request)
        command += ["-sess_in", str(session), "-early_data", str(early_file)]
        sent = ""
    else:
        command += ["-sess_out", str(session)]
        sent = request
    started = time.time()
    done = subprocess.run(command, input=sent, capture_output=True, text=True, timeout=20,
                          check=False)  # fmt: skip
    status = re.search(r"^HTTP/1\.1 (\d{3})", done.stdout, re.MULTILINE)
    return {"started": started, "status": int(status[1]) if status else None,
            "version": "TLSv1.3" if "TLSv1.3" in done.stdout else None,
            "resumed": "Reused, TLSv1.3" in done.stdout,
            "early_data": "Early data was accepted" in done.stdout}  # fmt: skip


def keylog_args() -> list[str]:
    keylog = os.environ.get(KEYLOG)
    return ["-keylogfile", keylog] if keylog else []


def tcp_early_way() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sandbox-tls-") as folder:
        session = Path(folder) / "session.pem"
        openssl_get(session, early=False)
        return openssl_get(session, early=True)


def quic_way(zero_rtt: bool) -> Callable[[], dict[str, Any]]:
    def connect() -> dict[str, Any]:
        ticket = quic(None)[1] if zero_rtt else None
        started = time.time()
        facts, _ = quic(ticket)
        return {"started": started, "status": 200, "version": "QUIC v1 (TLS 1.3)",
                "resumed": facts["resumed"], "early_data": facts["early_data"]}  # fmt: skip

    return connect


def fastopen_way() -> dict[str, Any]:
    """TCP Fast Open + TLS 1.3 from fastopen-client (services/wire/fastopen.py), a container
    on the proxy's network: its first connection fetches a cookie, its second sends the
    ClientHello in the SYN. Its TLS secrets join this run's key log; the proxy's kernel
    says how many Fast Opens it served meanwhile."""
    proxy = docker.containers("proxy")[0].name
    before = kernel_counters.in_container(proxy)
    started = time.time()  # the way's window opens here: its cookie connection is in it too
    seen = run_client("fastopen-client", "--host", "proxy", "--port", "8443",
                      "--ca", "/etc/sandbox-tls/ca.pem")  # fmt: skip
    served = kernel_counters.delta(before, kernel_counters.in_container(proxy),
                                   (FASTOPEN_PASSIVE,))[FASTOPEN_PASSIVE]  # fmt: skip
    if keylog := os.environ.get(KEYLOG):
        with open(keylog, "a") as keys:
            keys.write(seen["keylog"])
    fast = seen["connections"][-1]
    return {**fast, "started": started, "resumed": False,
            "fastopen_active": seen["fastopen_active"], "fastopen_passive": served}  # fmt: skip


CONNECT = {
    "TCP + TLS 1.2": tcp_way(ssl.TLSVersion.TLSv1_2, resume=False),
    "TCP + TLS 1.2 resumed": tcp_way(ssl.TLSVersion.TLSv1_2, resume=True),
    "TCP + TLS 1.3": tcp_way(ssl.TLSVersion.TLSv1_3, resume=False),
    "TCP + TLS 1.3 resumed": tcp_way(ssl.TLSVersion.TLSv1_3, resume=True),
    "TCP + TLS 1.3 0-RTT": tcp_early_way,
    FASTOPEN: fastopen_way,
    "QUIC": quic_way(zero_rtt=False),
    "QUIC 0-RTT": quic_way(zero_rtt=True),
}
