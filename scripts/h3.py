"""HTTP/3 requests to the proxy from any host, curl-like: `python -m scripts.h3 /whoami`.

For hosts whose curl has no HTTP/3 (Debian 12's). It prints what QUIC did:
the ALPN protocol, whether the session was resumed and early data accepted,
how many server flights the request waited for, then the status, headers
and body.

    python -m scripts.h3 /whoami                 # full handshake, then the GET
    python -m scripts.h3 /whoami --0rtt          # resume, the GET in the first flight
    python -m scripts.h3 /orders -X POST -d '{...}' --0rtt    # 425 Too Early
"""

from __future__ import annotations

import sys

import typer

from comms_sandbox import http3
from comms_sandbox.http3 import H3Session

app = typer.Typer(add_completion=False)


@app.command()
def main(
    path: str = typer.Argument("/whoami", help="Path and query, e.g. /whoami"),
    method: str = typer.Option("GET", "-X", "--method"),
    data: str = typer.Option("", "-d", "--data", help="A body, sent as JSON"),
    zero_rtt: bool = typer.Option(False, "--0rtt", help="Resume a session; send in 0-RTT"),
    headers_only: bool = typer.Option(False, "-I", "--head", help="Print no body"),
) -> None:
    ticket = http3.fetch_ticket() if zero_rtt else None
    headers = [("content-type", "application/json")] if data else []
    with H3Session.open(ticket) as session:
        if ticket is None:
            session.run_until(session.handshake_done)
        exchange = session.request(method, path, headers, data.encode())
        session.run_until(lambda: exchange.finished() and session.handshake_done())
        print(f"* ALPN {session.alpn}, resumed: {session.resumed}, "
              f"early data accepted: {session.early_data_accepted}, "
              f"sent after {exchange.flights_before_sent} server flight(s)")  # fmt: skip
    print(f"HTTP/3 {exchange.status}")
    for name, value in exchange.headers:
        if not name.startswith(b":"):
            print(f"{name.decode()}: {value.decode()}")
    if not headers_only:
        print()
        sys.stdout.write(bytes(exchange.body).decode(errors="replace") + "\n")


if __name__ == "__main__":
    app()
