"""The auth lesson's browser session: the feed and WebRTC signaling, signed in.

EventSource and WebSocket cannot send a bearer header, so the sign-in page trades
its token for a session cookie (POST /secure/session, services/api/session.py). The
run does what the page does, then what another site's page would try:

- the token traded without the page's Origin: refused (403); with it: 201 and a
  cookie that is Secure, HttpOnly, SameSite=Strict, Path=/, and lives no longer
  than the token;
- the feed read with the cookie (200) and without it (401);
- the feed's and signaling's WebSockets opened with the cookie from this site's
  page (subscribed, joined), from another site's page (Origin elsewhere: the
  handshake refused, 403) and with no cookie (403);
- signed out (DELETE /secure/session): the same cookie, replayed, gets 401.
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from typing import Any

import httpx
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from comms_sandbox import config, ports
from scenarios.auth import verdicts

COOKIE = "__Host-sandbox-session"  # services/api/session.py's (a unit test keeps them equal)
ELSEWHERE = "https://evil.example"
SOCKETS = {
    "feed": ("/secure/feed/ws", {"type": "subscribe", "after": 0}),
    "signaling": ("/secure/signal/ws?room=auth-run&peer=alice", None),
}


def own_origin() -> str:
    """The issuer's origin: the sign-in page, and so the cookie, live there."""
    return f"https://{ports.HOST}:{ports.PROXY_TLS.port}"


def cookie_attributes(set_cookie: str) -> dict[str, Any]:
    """The Set-Cookie header's attributes, as a browser would store them."""
    morsel = SimpleCookie(set_cookie).get(COOKIE)
    if morsel is None:
        return {}
    return {
        "secure": bool(morsel["secure"]),
        "httponly": bool(morsel["httponly"]),
        "samesite": str(morsel["samesite"]).lower(),
        "path": morsel["path"],
        "max_age_s": int(morsel["max-age"] or 0),
        "value": morsel.value,
    }


def open_socket(path: str, origin: str, session_id: str | None, first: Any) -> str:
    """A WebSocket as a browser page on `origin` would open it; the type of the first
    message, or the HTTP status that refused the handshake."""
    headers = {"Origin": origin}
    if session_id:
        headers["Cookie"] = f"{COOKIE}={session_id}"
    url = f"wss://{ports.HOST}:{ports.PROXY_TLS.port}{path}"
    try:
        with connect(url, ssl=config.tls_context(), additional_headers=headers,
                     open_timeout=10) as ws:  # fmt: skip
            if first is not None:
                ws.send(json.dumps(first))
            return str(json.loads(ws.recv(timeout=10))["type"])
    except InvalidStatus as refused:
        return str(refused.response.status_code)


def sockets(session_id: str | None) -> dict[str, dict[str, str]]:
    return {
        name: {
            "this site's page": open_socket(path, own_origin(), session_id, first),
            "another site's page": open_socket(path, ELSEWHERE, session_id, first),
            "no cookie": open_socket(path, own_origin(), None, first),
        }
        for name, (path, first) in SOCKETS.items()
    }


def feed_status(http: httpx.Client, session_id: str | None) -> int:
    headers = {"Cookie": f"{COOKIE}={session_id}"} if session_id else {}
    return http.get(f"{config.proxy_url()}/secure/feed/events?after=0&limit=1",
                    headers=headers).status_code  # fmt: skip


def sessions(token: str, token_lifetime_s: float, secrets: list[str]) -> dict[str, Any]:
    """`token`: an access token with orders.read and orders.write, as the page holds;
    the session's id joins `secrets` (which no log may show: the `secrets` part)."""
    bearer = {"Authorization": f"Bearer {token}"}
    own = {"Origin": own_origin()}
    url = f"{config.proxy_url()}/secure/session"
    with httpx.Client(verify=config.tls_context(), timeout=10) as http:
        without_origin = http.post(url, headers=bearer).status_code
        started = http.post(url, headers=bearer | own)
        cookie = cookie_attributes(started.headers.get("set-cookie", ""))
        session_id = cookie.pop("value", None)
        if session_id:
            secrets.append(session_id)
        http.cookies.clear()  # each request below says itself which cookie it sends
        reads = {"with the cookie": feed_status(http, session_id),
                 "without": feed_status(http, None)}  # fmt: skip
        opened = sockets(session_id)
        ended = http.delete(url, headers=own | {"Cookie": f"{COOKIE}={session_id}"}).status_code
        replayed = feed_status(http, session_id)
    trades = {"no Origin": without_origin, "this site's Origin": started.status_code}
    measured = {
        "trades": trades,
        "cookie": cookie,
        "token_lifetime_s": token_lifetime_s,
        "feed_reads": reads,
        "websockets": opened,
        "signed_out": ended,
        "replayed_after_sign_out": replayed,
    }
    return measured | {"holds": verdicts.sessions_holds(measured)}
