"""HTTP/1.1, HTTP/2 and HTTP/3 through one proxy: negotiation, handshakes, 0-RTT, head-of-line, UDP.

nginx serves the same locations on 8443 over TCP (TLS, ALPN h2 or
http/1.1) and over QUIC on UDP 8443 (ALPN h3), and says so in an Alt-Svc
header (proxy/http_versions.py). Beside it, nginx's stream module passes
TCP and UDP port 8447 to one echo service.

What to look at:
- negotiation: which version and ALPN each client got, as the client and
  as nginx saw it, and how many connections 12 requests took (nginx counts
  client ports): HTTP/1.1 one at a time or over 6 connections, HTTP/2 and
  HTTP/3 all at once over one;
- handshakes: round trips before the first request could leave, counted
  from the handshakes' own messages: TCP + TLS 1.3 2, QUIC 1, QUIC 0-RTT 0;
- 0-RTT: a GET in early data is served, a POST is answered 425 Too Early
  and runs once sent again after the handshake; its captured datagrams,
  replayed, reach nginx again and are refused again: one order placed;
- head-of-line blocking: one slow response delays the fast ones behind it
  on an HTTP/1.1 connection, not on HTTP/2 or HTTP/3;
- TCP against UDP: a connect round trip or none, a byte stream or whole
  messages, and a burst at a busy receiver: TCP delivers everything in
  order, UDP drops what the receive buffers cannot hold, and the kernels
  count every datagram lost;
- refusals: garbage datagrams, an unknown QUIC version, invalid HTTP/3
  headers: refused, and other clients served.
"""

from __future__ import annotations

from comms_sandbox import ports
from comms_sandbox.health import require_lesson_service, require_proxy
from scenarios.http_versions import (
    handshakes,
    head_of_line,
    negotiation,
    refusals,
    tcp_udp,
    zero_rtt,
)
from scenarios.http_versions.render import render
from scenarios.result import ScenarioResult, from_parts, run_parts

NAME = "http-versions"
ORDER = 35  # place in the syllabus: after TLS
# What `make up LESSON=http-versions` starts: nginx (HTTP/3 is on by default) and the echo.
SERVICES = ("proxy", "echo")
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "services/api/early_data.py",
    "comms_sandbox/http3.py",
    "comms_sandbox/kernel_counters.py",
    "scripts/h3.py",
)
PARTS = {
    "negotiation": negotiation.run,
    "handshakes": handshakes.run,
    "zero_rtt": zero_rtt.run,
    "head_of_line": head_of_line.run,
    "tcp_udp": tcp_udp.run,
    "refusals": refusals.run,
}

__all__ = ["NAME", "ORDER", "SERVICES", "render", "run", "where"]


def where() -> list[tuple[str, str]]:
    return [
        ("HTTP/3 (QUIC)", f"udp {ports.HOST}:{ports.PROXY_QUIC.port}, advertised by Alt-Svc"),
        ("echo over TCP and UDP", f"{ports.HOST}:{ports.PROXY_ECHO_TCP.port} (both)"),
    ]


def run() -> ScenarioResult:
    require_proxy()
    require_lesson_service("the echo service", tcp_udp.echo_answers, NAME)
    return from_parts(NAME, run_parts(PARTS), PARTS)  # each part narrated as it runs
