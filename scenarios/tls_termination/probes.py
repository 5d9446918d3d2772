"""TLS handshakes seen from the client (Python's ssl module): what was negotiated, how fast."""

from __future__ import annotations

import socket
import ssl
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx

from comms_sandbox import config, ports

ALPN_OFFER = ["h2", "http/1.1"]


@dataclass(frozen=True)
class Target:
    """Where to connect, the name to send as SNI, and a request that shows the backend's view."""

    name: str
    port: int
    sni: str
    whoami: str


def context(
    version: ssl.TLSVersion | None = None, cafile: str | None = None, *, old_protocols: bool = False
) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cafile or str(config.ca_cert()))
    if version is not None:
        with warnings.catch_warnings():  # naming TLS 1.0/1.1 is deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = version
    if old_protocols:
        # Python refuses to offer TLS 1.0/1.1 at its default security level:
        # lower it so that the refusal seen is the server's.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.set_alpn_protocols(ALPN_OFFER)
    return ctx


def connect(port: int) -> socket.socket:
    """A TCP connection with Nagle's algorithm off, as browsers and curl have it.

    With it on, a resumed TLS 1.2 handshake stalls about 40 ms: the client's
    Finished and its request go out as two small writes, and the second
    waits for the server's delayed ACK of the first.
    """
    raw = socket.create_connection((ports.HOST, port), timeout=5)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return raw


def handshake(
    target: Target, ctx: ssl.SSLContext, session: ssl.SSLSession | None = None
) -> dict[str, Any]:
    """One handshake and a tiny request (so a TLS 1.3 session ticket arrives); its facts."""
    with connect(target.port) as raw:
        started = time.perf_counter()
        with ctx.wrap_socket(raw, server_hostname=target.sni, session=session) as conn:
            elapsed_ms = (time.perf_counter() - started) * 1000
            facts = _facts(conn, elapsed_ms)
            _read_a_little(conn, target.sni)
            facts["session"] = conn.session
    return facts


def _facts(conn: ssl.SSLSocket, elapsed_ms: float) -> dict[str, Any]:
    cert = conn.getpeercert() or {}
    cipher = conn.cipher()
    return {
        "version": conn.version(),
        "cipher": cipher[0] if cipher else None,
        "alpn": conn.selected_alpn_protocol(),
        "subject": _common_name(cert.get("subject", ())),
        "issuer": _common_name(cert.get("issuer", ())),
        "sans": [f"{kind}:{value}" for kind, value in cert.get("subjectAltName", ())],
        "handshake_ms": round(elapsed_ms, 2),
        "resumed": conn.session_reused,
    }


def _common_name(rdns: Any) -> str | None:
    return dict(pair[0] for pair in rdns).get("commonName")


def _read_a_little(conn: ssl.SSLSocket, host: str) -> None:
    # An HTTP/1.1 request works whatever ALPN chose only over http/1.1; after
    # h2 was chosen the server expects the h2 preface, so just read nothing.
    if conn.selected_alpn_protocol() == "h2":
        return
    conn.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    conn.recv(1024)


def resumption(target: Target, rounds: int = 15) -> dict[str, Any]:
    """Median time of full handshakes versus ones resuming the first session."""
    ctx = context(ssl.TLSVersion.TLSv1_3)
    ctx.set_alpn_protocols(["http/1.1"])  # so a request brings the session ticket
    first = handshake(target, ctx)
    full = [handshake(target, ctx)["handshake_ms"] for _ in range(rounds)]
    resumed_runs = [handshake(target, ctx, session=first["session"]) for _ in range(rounds)]
    return {
        "full_ms": round(statistics.median(full), 2),
        "resumed_ms": round(statistics.median(r["handshake_ms"] for r in resumed_runs), 2),
        "resumed": sum(1 for r in resumed_runs if r["resumed"]),
        "rounds": rounds,
    }


def refusal(target: Target, ctx: ssl.SSLContext) -> str | None:
    """None if the handshake succeeded; otherwise what the client was told."""
    try:
        handshake(target, ctx)
    except (ssl.SSLError, ConnectionError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def backend_view(target: Target) -> dict[str, Any]:
    """What the replica that answered saw: its scheme and the proxy's headers."""
    with httpx.Client(verify=context(), timeout=10) as client:
        response = client.get(
            f"https://{ports.HOST}:{target.port}{target.whoami}",
            extensions={"sni_hostname": target.sni},
        )
    seen = response.json()
    return {
        "status": response.status_code,
        "backend": seen["hostname"],
        "backend_scheme": seen["scheme"],
        "x_forwarded_proto": seen["headers"].get("x-forwarded-proto"),
        "hsts": response.headers.get("strict-transport-security"),
    }


def terminated_by(view: dict[str, Any]) -> str:
    if view["backend_scheme"] == "https" and view["x_forwarded_proto"] is None:
        return "the backend itself (nginx only routed the bytes by SNI)"
    if view["backend_scheme"] == "https":
        return "nginx, then a second TLS session from nginx to the backend"
    return "nginx; plain HTTP inside the network"
