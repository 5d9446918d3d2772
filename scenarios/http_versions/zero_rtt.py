"""0-RTT: a resumed QUIC client sends requests before the handshake ends, and they can be replayed.

1. A full connection leaves a session ticket that allows early data.
2. A resumed connection sends, in its first flight, a GET /whoami and a
   POST /orders (placing an order is exactly what must not happen twice).
   nginx accepts the early data and marks both `Early-Data: 1`; the api
   serves the GET and answers the POST 425 Too Early (RFC 8470).
3. Once the handshake completes the client sends the POST again: it runs.
4. An attacker's view: the first flight's datagrams, captured, are sent
   again from another socket. nginx cannot tell the copy from the original
   and accepts the early data again; the api refuses the POST again.

Every request carries one label, so nginx's log shows each one with its
status and whether it came in early data, per client port: the original
connection's port is the one the retried POST came from.
"""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import uuid4

from comms_sandbox import http3, proxy_log
from comms_sandbox.http3 import H3Session
from scenarios.http_versions.clients import CLIENT_HEADER

REPLAY_LISTEN_S = 1.5


# An order: what a replay must never place twice.
ORDER = json.dumps({"customer_id": "C-425", "sequence": 1, "amount_cents": 1999}).encode()


def run() -> dict[str, Any]:
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    label = f"http-versions-0rtt-{uuid4().hex[:8]}"
    headers = [(CLIENT_HEADER, label), ("content-type", "application/json")]
    ticket = http3.fetch_ticket()
    with H3Session.open(ticket) as session:
        get = session.request("GET", "/whoami", headers)
        post = session.request("POST", "/orders", headers, ORDER)
        session.run_until(lambda: get.finished() and post.finished() and session.handshake_done())
        retry = session.request("POST", "/orders", headers, ORDER)
        session.run_until(retry.finished)
        first_flight, address = session.first_flight, session.address
        client = {
            "ticket_allows_early_data": ticket.max_early_data_size > 0,
            "early_data_accepted": session.early_data_accepted,
            "GET in 0-RTT": exchange_facts(get),
            "POST in 0-RTT": exchange_facts(post),
            "POST after the handshake": exchange_facts(retry),
        }
    answers = http3.replay(first_flight, address, REPLAY_LISTEN_S)
    time.sleep(proxy_log.FLUSH_S)
    nginx = at_nginx(proxy_log.for_client(proxy_log.access_log(since), label))
    replay = {"datagrams": len(first_flight), "answers": answers}
    return {"client": client, "nginx": nginx, "replay": replay, "holds": holds(client, nginx)}


def exchange_facts(exchange: http3.Exchange) -> dict[str, Any]:
    return {"status": exchange.status, "sent_after_server_flights": exchange.flights_before_sent,
            "body": bytes(exchange.body[:120]).decode(errors="replace")}  # fmt: skip


def at_nginx(lines: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """nginx's lines for the label, split into the original connection and the replay."""
    retried = [line for line in lines if line["early_data"] != "1" and "POST" in line["request"]]
    original_port = retried[0]["remote_port"] if retried else None
    rows = [{"request": line["request"].rsplit(" ", 1)[0], "status": line["status"],
             "early_data": line["early_data"] == "1", "port": line["remote_port"]}
            for line in lines]  # fmt: skip
    return {
        "original": [r for r in rows if r["port"] == original_port],
        "replay": [r for r in rows if r["port"] != original_port],
    }


def holds(client: dict[str, Any], nginx: dict[str, list[dict[str, Any]]]) -> dict[str, bool]:
    def seen(rows: list[dict[str, Any]], method: str, early: bool) -> list[int]:
        return [
            r["status"]
            for r in rows
            if r["request"].startswith(method) and r["early_data"] is early
        ]

    original, replay = nginx["original"], nginx["replay"]
    orders_run = [
        r for r in original + replay if r["request"].startswith("POST") and r["status"] < 300
    ]
    return {
        "the resumed connection's early data was accepted": client["early_data_accepted"],
        "GET in early data is served (200), as nginx saw it": seen(original, "GET", True) == [200],
        "POST in early data is refused with 425, as nginx saw it": seen(original, "POST", True)
        == [425],
        "POST after the handshake runs (201)": seen(original, "POST", False) == [201],
        # nginx has no replay protection of its own for early data: the copy
        # reaches the api, marked, and is refused there.
        "the replayed POST reaches nginx as early data and is refused with 425": (
            seen(replay, "POST", True) == [425] and not seen(replay, "POST", False)
        ),
        "exactly one order was placed": len(orders_run) == 1,
    }
