"""The auth lesson's people: signing in with authorization code and PKCE, the login
step's guards against forged forms (CSRF) and guessed passwords.

The run drives the flow as a browser would, with cookies and redirects, through
nginx: Hydra's /oauth2/auth sends it to api-auth's login page (a form), then to its
consent page, then back to the sign-in page with a code; the code and its PKCE
verifier buy an access token at /oauth2/token (services/api/signin.py, and the
browser's own version in services/api/static/signin.html).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt

from comms_sandbox import config, docker
from comms_sandbox.credentials import (
    AUDIENCE,
    BROWSER_CLIENT_ID,
    BROWSER_SCOPES,
    signin_page_url,
    user_password,
)
from scenarios.auth import verdicts

# services/api/signin.py's (a unit test keeps them equal)
LOCK_AFTER = 5
FIRST_DELAY_S = 0.25
MAX_DELAY_S = 4.0
CSRF_COOKIE = "__Host-sandbox-csrf"
FIELD = re.compile(r'name="(challenge|csrf)" value="([^"]*)"')
GUESSES = ("123456", "password", "qwerty", "letmein", "bob2026", "hunter2")


def client() -> httpx.Client:
    """A browser's part: its own cookie jar, redirects followed."""
    return httpx.Client(verify=config.tls_context(), timeout=20, follow_redirects=True)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Flow:
    """One sign-in in progress: its PKCE verifier and state, and the login form's fields."""

    verifier: str
    state: str
    challenge: str = ""
    csrf: str = ""
    set_cookie: str = ""  # the login page's Set-Cookie for the CSRF token

    def challenge_method(self) -> dict[str, str]:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return {"code_challenge": b64url(digest), "code_challenge_method": "S256"}


def authorize_url(flow: Flow, pkce: bool = True) -> str:
    query = {
        "response_type": "code", "client_id": BROWSER_CLIENT_ID, "scope": BROWSER_SCOPES,
        "redirect_uri": signin_page_url(), "audience": AUDIENCE, "state": flow.state,
    } | (flow.challenge_method() if pkce else {})  # fmt: skip
    return f"{config.proxy_url()}/oauth2/auth?{urlencode(query)}"


def new_flow() -> Flow:
    return Flow(verifier=b64url(secrets.token_bytes(32)), state=b64url(secrets.token_bytes(16)))


def open_login(http: httpx.Client, pkce: bool = True) -> Flow:
    """Start a sign-in: Hydra redirects to the login page; its form's hidden fields."""
    flow = new_flow()
    page = http.get(authorize_url(flow, pkce))
    fields = dict(FIELD.findall(page.text))
    if page.status_code != 200 or "/secure/login" not in str(page.url) or not fields:
        raise RuntimeError(f"no login form: {page.status_code} at {page.url}: {page.text[:200]}")
    flow.challenge, flow.csrf = html.unescape(fields["challenge"]), html.unescape(fields["csrf"])
    cookies = page.headers.get_list("set-cookie")
    flow.set_cookie = next((c for c in cookies if c.startswith(f"{CSRF_COOKIE}=")), "")
    return flow


def post_login(
    http: httpx.Client, flow: Flow, user: str, password: str, **changes: Any
) -> httpx.Response:
    """The login form as the page posts it, or with `changes` (headers, csrf, cookie)."""
    form = {"challenge": flow.challenge, "csrf": changes.get("csrf", flow.csrf),
            "username": user, "password": password}  # fmt: skip
    return http.post(
        f"{config.proxy_url()}/secure/login", data=form, headers=changes.get("headers"),
        follow_redirects=False,
    )  # fmt: skip


def consent_and_code(http: httpx.Client, signed_in: httpx.Response) -> dict[str, str]:
    """After the login's 303: the consent page, allowed; the query Hydra sends back."""
    page = http.get(signed_in.headers["location"])
    fields = dict(FIELD.findall(page.text))
    back = http.post(f"{config.proxy_url()}/secure/consent", data={
        "challenge": html.unescape(fields.get("challenge", "")),
        "csrf": html.unescape(fields.get("csrf", "")), "action": "allow"})  # fmt: skip
    return query_of(back.url)


def exchange(http: httpx.Client, code: str, verifier: str | None) -> dict[str, Any]:
    """The token endpoint's answer to the code (with `verifier`, when given)."""
    form = {"grant_type": "authorization_code", "code": code, "client_id": BROWSER_CLIENT_ID,
            "redirect_uri": signin_page_url()}  # fmt: skip
    if verifier:
        form["code_verifier"] = verifier
    answer = http.post(f"{config.proxy_url()}/oauth2/token", data=form)
    body = (
        answer.json()
        if answer.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    return {"status": answer.status_code, "error": str(body.get("error", "")),
            "token": str(body.get("access_token", ""))}  # fmt: skip


def query_of(url: httpx.URL) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(str(url)).query).items()}


# ---- authorization code with PKCE


def signed_in(http: httpx.Client, pkce: bool = True) -> tuple[Flow, dict[str, str]]:
    """alice signs in and allows the page: the flow, and the query Hydra sent back."""
    flow = open_login(http, pkce)
    return flow, consent_and_code(http, post_login(http, flow, "alice", user_password("alice")))


def code_flow(issued: list[str]) -> dict[str, Any]:
    """alice signs in four times: without a PKCE challenge, then each code traded without
    its verifier, with another one, with its own (and once more, used)."""
    with client() as http:
        _, without = signed_in(http, pkce=False)
        exchanges = {
            "no verifier": exchange(http, signed_in(http)[1].get("code", ""), None),
            "another verifier": exchange(
                http, signed_in(http)[1].get("code", ""), b64url(secrets.token_bytes(32))
            ),
        }
        flow, back = signed_in(http)
        exchanges["its verifier"] = exchange(http, back.get("code", ""), flow.verifier)
        exchanges["its verifier, the code used again"] = exchange(
            http, back.get("code", ""), flow.verifier
        )
        token = exchanges["its verifier"]["token"]
        issued.append(token)
        orders = {c: orders_status(http, token, c) for c in ("C-001", "C-002")}
    for tried in exchanges.values():
        tried.pop("token")
    claims = jwt.decode(token, options={"verify_signature": False}) if token else {}
    returned = back.get("state") == flow.state
    holds = verdicts.code_flow_holds(without.get("error", ""), returned, exchanges, claims, orders)
    return {
        "without_a_challenge": without.get("error", ""),
        "state_returned": returned,
        "exchanges": exchanges,
        "claims": {k: claims.get(k) for k in ("sub", "client_id", "scp", "aud")},
        "orders_status": orders,
        "holds": holds,
    }


def orders_status(http: httpx.Client, token: str, customer: str) -> int:
    if not token:
        return 0  # no token was issued: nothing to send
    answer = http.get(f"{config.proxy_url()}/secure/orders", params={"customer_id": customer},
                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    return answer.status_code


# ---- forged forms


def csrf(_: list[str]) -> dict[str, Any]:
    """The login form posted as another site could make a browser post it."""
    with client() as http:
        flow = open_login(http)
        password = user_password("alice")
        answers = {
            "another site's Origin": post_login(
                http, flow, "alice", password, headers={"Origin": "https://evil.example"}
            ).status_code,
            "a token that is not the cookie's": post_login(
                http, flow, "alice", password, csrf=b64url(secrets.token_bytes(32))
            ).status_code,
        }
        http.cookies.clear()
        answers["no cookie (a cross-site post carries no SameSite=Strict cookie)"] = post_login(
            http, flow, "alice", password
        ).status_code
    name = flow.set_cookie.split("=", 1)[0]
    attributes = [a.strip().lower() for a in flow.set_cookie.split(";")[1:]]
    return {
        "cookie": {"name": name, "attributes": attributes},
        "answers": answers,
        "holds": verdicts.csrf_holds(name, attributes, answers),
    }


# ---- guessed passwords


def failures_in_redis(user: str) -> int:
    (redis, *_) = docker.containers("redis")
    return int(docker.run_in(redis.name, "redis-cli", "GET", f"signin-failures:{user}") or 0)


def unlock(user: str) -> None:
    """What an operator would do: forget the user's failed sign-ins."""
    (redis, *_) = docker.containers("redis")
    docker.run_in(redis.name, "redis-cli", "DEL", f"signin-failures:{user}")


def guessing(_: list[str]) -> dict[str, Any]:
    """bob's password guessed: each failure answered later, then the user locked; alice
    meanwhile signs in."""
    unlock("bob")
    attempts = []
    try:
        with client() as http:
            flow = open_login(http)
            for guess in GUESSES:
                started = time.monotonic()
                answer = post_login(http, flow, "bob", guess)
                attempts.append({"status": answer.status_code, "took_s": round(
                    time.monotonic() - started, 2), "retry_after": answer.headers.get(
                    "retry-after")})  # fmt: skip
            right = post_login(http, flow, "bob", user_password("bob"))
            counted = failures_in_redis("bob")
        with client() as other:
            alice = post_login(other, open_login(other), "alice", user_password("alice"))
    finally:
        unlock("bob")
    return {
        "attempts": attempts,
        "right_password_while_locked": right.status_code,
        "failures_in_redis": counted,
        "another_user": alice.status_code,
        "holds": verdicts.guessing_holds(
            attempts, right.status_code, counted, alice.status_code,
            (LOCK_AFTER, FIRST_DELAY_S, MAX_DELAY_S),
        ),
    }  # fmt: skip
