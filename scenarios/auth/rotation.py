"""The auth lesson's key rotation: Hydra's token signing key changed while a client keeps
sending requests.

The steps, as an operator would take them on Hydra's admin API (reached from inside
the network: nginx does not publish it):

1. add a key to the set `hydra.jwt.access-token`: Hydra signs new tokens with the
   newest key, and its JWKS now publishes both (the overlap);
2. the tokens signed with the old key still verify (api-auth finds their kid in the
   keys it holds), the new ones too (an unknown kid makes api-auth fetch the JWKS);
3. retire the old key (in production: once the last token it signed has expired,
   5 minutes here): api-auth stops accepting it once its copy of the keys is older
   than its max age (API_AUTH_KEYS_MAX_AGE_S).

Meanwhile a client gets a new token every TOKEN_EVERY_S and sends POST /quotes: none
of its requests may fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from comms_sandbox import config, docker
from scenarios.auth import verdicts

Issue = Callable[[], str]
Send = Callable[[httpx.Client, str], int]
KEY_SET = "hydra.jwt.access-token"
ADMIN_URL = "http://hydra:4445"
# api-auth's API_AUTH_KEYS_MAX_AGE_S (scenarios/auth/compose.yaml; a unit test keeps them
# equal) and KEYS_REFRESH_S (services/api/bearer.py).
KEYS_MAX_AGE_S = 15.0
KEYS_REFRESH_S = 1.0
TOKEN_EVERY_S = 0.5
REQUEST_EVERY_S = 0.1  # 100 in 10 s: half the per-identity limit (services/api/quota.py)
OVERLAP_S = 3.0

# Run inside api-auth (on `back`, where Hydra's admin API is): add a key to the set
# (Hydra makes it, and a kid) or delete one by kid. Prints the status, and a refusal's
# reason; never an added key's answer, which holds its private half.
ADMIN = """
import json, sys, urllib.error, urllib.request
admin, key_set, action, kid = sys.argv[1:]
url = f"{admin}/admin/keys/{key_set}"
if action == "add":
    body = json.dumps({"alg": "ES256", "use": "sig", "kid": ""}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
else:
    request = urllib.request.Request(f"{url}/{kid}", method="DELETE")
try:
    with urllib.request.urlopen(request, timeout=10) as answer:
        print(answer.status)
except urllib.error.HTTPError as error:
    print(error.code, error.read(500).decode(errors="replace"))
"""


ADMIN_TRIES = 5
# Hydra on SQLite (DSN=memory) answers a write that met another one (a token being
# issued) with 400 and this reason: its own word that trying again is right.
CONCURRENT = "concurrent update"


def admin(action: str, kid: str = "-") -> int:
    """The admin API's status for the action, tried again while Hydra says a concurrent
    update got in the way; any other refusal's reason goes to the narration."""
    (api, *_) = docker.containers("api-auth")
    for _ in range(ADMIN_TRIES):
        answer = docker.run_in(api.name, "python", "-c", ADMIN, ADMIN_URL, KEY_SET, action, kid)
        status, _, reason = answer.strip().partition(" ")
        if CONCURRENT not in reason:
            break
        print(f"Hydra's admin API: {status} {reason[:120]}; trying again")
        time.sleep(0.5)
    if reason:
        print(f"Hydra's admin API refused to {action} a key: {status} {reason[:300]}")
    return int(status)


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token).get("kid"))


class Load(threading.Thread):
    """One client's requests: (phase, the kid of its token, status); status 0 for a
    request that got no answer, and the kid of each token with the phase it came in."""

    def __init__(self, issue: Issue, send: Send) -> None:
        super().__init__(daemon=True)
        self.issue, self.send = issue, send
        self.phase = "before"
        self.answers: list[tuple[str, str, int]] = []
        self.tokens: list[tuple[str, str]] = []
        self.done = threading.Event()

    def run(self) -> None:
        with client() as http:
            self.send_until_done(http)

    def send_until_done(self, http: httpx.Client) -> None:
        token, got_at = "", 0.0
        while not self.done.is_set():
            if not token or time.monotonic() - got_at >= TOKEN_EVERY_S:
                phase = self.phase
                token, got_at = self.issue(), time.monotonic()
                self.tokens.append((phase, kid_of(token)))
            phase = self.phase
            try:
                status = self.send(http, token)
            except httpx.HTTPError:
                status = 0
            self.answers.append((phase, kid_of(token), status))
            self.done.wait(REQUEST_EVERY_S)


def published_kids(http: httpx.Client) -> list[str]:
    keys = http.get(f"{config.proxy_url()}/.well-known/jwks.json").raise_for_status().json()
    return [str(k.get("kid")) for k in keys.get("keys", [])]


def client() -> httpx.Client:
    return httpx.Client(verify=config.tls_context(), timeout=10)


def until_refused(http: httpx.Client, send: Send, token: str) -> tuple[int, float]:
    """Present `token` every second until it is refused (or long past the max age)."""
    started = time.monotonic()
    status = send(http, token)
    while status == 200 and time.monotonic() - started < KEYS_MAX_AGE_S + KEYS_REFRESH_S + 5:
        time.sleep(1)
        status = send(http, token)
    return status, time.monotonic() - started


def rotation(issue: Issue, send: Send) -> dict[str, Any]:
    """`issue()`: a new token of the client; `send(http, token)`: a request's status."""
    held = issue()  # signed with the key in use now; held through the whole rotation
    old_kid = kid_of(held)
    load = Load(issue, send)
    load.start()
    try:
        with client() as http:
            time.sleep(OVERLAP_S)
            added = admin("add")
            load.phase = "overlap"
            during_overlap = published_kids(http)
            time.sleep(OVERLAP_S)
            held_in_overlap = send(http, held)
            retired = admin("delete", old_kid)
            load.phase = "retired"
            after = published_kids(http)
            held_after, refused_after_s = until_refused(http, send, held)
    finally:
        load.done.set()
        load.join(timeout=30)
    new_kids = sorted(set(during_overlap) - {old_kid})
    return {
        "old_kid": old_kid,
        "new_kids": new_kids,
        "admin_statuses": {"add": added, "delete": retired},
        "published_during_overlap": during_overlap,
        "published_after_retiring": after,
        "held_token_in_overlap": held_in_overlap,
        "held_token_after_retiring": held_after,
        "refused_after_s": round(refused_after_s, 1),
        "requests": summary(load.answers),
        "token_kids": summary_of_tokens(load.tokens),
        "holds": verdicts.rotation_holds(
            old_kid, during_overlap=during_overlap, after=after, tokens=load.tokens,
            answers=load.answers, held=(held_in_overlap, held_after, refused_after_s),
            refused_within_s=KEYS_MAX_AGE_S + KEYS_REFRESH_S + 2,
        ),
    }  # fmt: skip


def summary(answers: list[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    """Per phase: how many requests got each status."""
    table: dict[str, dict[str, int]] = {}
    for phase, _, status in answers:
        row = table.setdefault(phase, {})
        row[str(status)] = row.get(str(status), 0) + 1
    return table


def summary_of_tokens(tokens: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Per phase: the kids of the tokens the client was given."""
    table: dict[str, list[str]] = {}
    for phase, kid in tokens:
        if kid not in table.setdefault(phase, []):
            table[phase].append(kid)
    return table
