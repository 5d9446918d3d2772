"""Auth: who calls (authentication) against what it may do (authorization), with a real
identity provider.

Ory Hydra issues OAuth 2.0 access tokens (client-credentials grant, RFC 6749
section 4.4) as JWTs signed with an ES256 key it publishes in a JWKS. The
api-auth replica checks every token itself (services/api/bearer.py) before
an order or quote route runs.

- tokens: a client asks Hydra (through nginx) for a token; the run checks,
  with the published key and not with Hydra's word, that it is an ES256 JWT
  for the api's audience that expires in 5 minutes.
- authentication: the same request with no token, `alg: none`, an HS256
  token "signed" with the public key, a token for another audience, one
  whose claims were edited after signing, an expired one, and a valid one:
  each refusal is a 401 whose WWW-Authenticate header says why.
- authorization: a valid token without the scope (403, insufficient_scope),
  and one customer's token on another customer's order (404, as for an
  order that does not exist) and list (403).
- edge: the same check made once by nginx (auth_request to the verifier)
  in front of replicas that check nothing: it refuses what passes through
  nginx's HTTP port, and misses what reaches those replicas any other way
  (nginx's layer-4 port, or any container on the network), where api-auth,
  checking in the service, still refuses.
- limits: one identity sends more than 200 requests in 10 s: the rest get
  429 with Retry-After; another identity meanwhile is not held back.
- privileges: each service's own RabbitMQ user and PostgreSQL role logs in
  with its password, then tries one thing its service never does: the broker
  (403 ACCESS_REFUSED) or the database (42501) refuses it; the superuser is
  turned away over the network (scenarios/auth/privileges.py).
- mtls: nginx reaches api-auth, and api-auth pricing-mtls, over mutual TLS:
  a connection without a client certificate, or with one from another CA,
  is refused in the handshake; one the sandbox's CA signed is served; the
  three short-lived certificates are re-issued (nginx reloads) while quotes
  go on, and none fails (scenarios/auth/mutual_tls.py).
- rotation: Hydra's signing key changes while a client sends requests: a
  new key is added (the JWKS publishes both), tokens of either key pass, the
  old key is retired and its tokens are refused within api-auth's key max
  age; not one of the client's requests fails (scenarios/auth/rotation.py).
- signin: a person (alice) signs in on the login page and allows the
  sign-in page's client on the consent page (authorization code, RFC 6749
  section 4.1, with PKCE, RFC 7636): without a PKCE challenge Hydra refuses;
  the code without its verifier, or with another, buys no token; with its
  own it does, once (scenarios/auth/signin.py).
- csrf: the login form posted with another site's Origin, with a token that
  is not its cookie's, with no cookie: each 403.
- guessing: bob's password guessed: each wrong one answered later than the
  last, then bob locked (429, Retry-After) even for his right password,
  counted in Redis; alice meanwhile signs in.
- sessions: the feed and signaling signed in: a token traded for a session
  cookie (Secure, HttpOnly, SameSite=Strict); the feed read and the
  WebSockets opened with it from this site's page, refused from another
  site's page and without it; signed out, the cookie replayed gets 401
  (scenarios/auth/sessions.py).
- secrets: no token, client secret, session id or password the run used
  appears in the logs of nginx, Hydra or the api, nor in any of their
  containers' environment.

Look at the WWW-Authenticate header of each refusal, the token's claims, and
which status each authorization case gets and why.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization

from comms_sandbox import auth, config, docker
from comms_sandbox.certs import DEFAULT_DIR, TlsFiles
from comms_sandbox.credentials import (
    AUDIENCE,
    AUTH_USERS,
    ELSEWHERE,
    HYDRA_SYSTEM_SECRET,
    auth_client_secrets,
    user_password,
)
from comms_sandbox.health import require_lesson_service, require_proxy
from scenarios.auth import mutual_tls, privileges, rotation, sessions, signin, verdicts
from scenarios.auth.render import render
from scenarios.result import ScenarioResult, from_parts, run_parts

NAME = "auth"
ORDER = 97  # place in the syllabus: after the patterns, who may use them
# RabbitMQ for the privileges part: its per-service users are tried there.
SERVICES = ("proxy", "hydra", "api-auth", "rabbitmq")
SHARED_FILES = ("services/api/bearer.py", "comms_sandbox/credentials.py", "images/hydra/")
QUOTE = {"sku": "BOOK-42", "quantity": 2}
LOGGED_SERVICES = ("proxy", "hydra", "api-auth", "api")
CLAIMS_SHOWN = ("iss", "aud", "sub", "client_id", "scp", "iat", "exp")

__all__ = ["NAME", "ORDER", "SERVICES", "render", "run"]


def secure(path: str) -> str:
    return f"{config.proxy_url()}{auth.SECURE_PREFIX}{path}"


def client() -> httpx.Client:
    return httpx.Client(verify=config.tls_context(), timeout=10)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def answer_of(response: httpx.Response) -> dict[str, Any]:
    """What a client sees of a refusal: the status, the challenge, the reason."""
    detail = (
        response.json().get("detail")
        if response.headers.get("content-type", "").startswith("application/json")
        else None
    )
    return {
        "status": response.status_code,
        "www_authenticate": response.headers.get("www-authenticate", ""),
        "detail": detail if isinstance(detail, str) else None,
    }


# ---- tokens


def published_keys() -> dict[str, Any]:
    with client() as http:
        return http.get(f"{config.proxy_url()}/.well-known/jwks.json").raise_for_status().json()


class Issued(list[str]):
    """The tokens a run was given: the secrets part looks for each in the services' logs."""

    def token(self, client_id: str, scope: str, audience: str = AUDIENCE) -> str:
        self.append(auth.token(client_id, scope, audience))
        return self[-1]


def tokens(issued_tokens: Issued) -> dict[str, Any]:
    issued = issued_tokens.token("C-001", "quotes orders.read orders.write")
    header = jwt.get_unverified_header(issued)
    keys = published_keys()
    verified = verify_with(keys, issued)
    claims = jwt.decode(issued, options={"verify_signature": False})
    return {
        "header": header,
        "claims": {k: claims.get(k) for k in CLAIMS_SHOWN},
        "lifetime_s": claims["exp"] - claims["iat"],
        "published_kids": [k.get("kid") for k in keys.get("keys", [])],
        "verified_with_published_key": verified,
        "holds": verdicts.token_holds(header, claims, verified, auth.issuer(), AUDIENCE),
    }


def verify_with(keys: dict[str, Any], token: str) -> bool:
    """Does the token's signature verify with the key the provider publishes for its kid?"""
    kid = jwt.get_unverified_header(token).get("kid")
    for entry in keys.get("keys", []):
        if entry.get("kid") == kid:
            key = jwt.PyJWK(entry)
            try:
                jwt.decode(
                    token, key.key, algorithms=[key.algorithm_name], options={"verify_aud": False}
                )
            except jwt.InvalidSignatureError:
                return False
            return True
    return False


# ---- authentication


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_header(token: str, header: dict[str, Any], signature: str = "") -> str:
    """The token's claims under another header (what an attacker can write freely)."""
    return f"{b64(json.dumps(header).encode())}.{token.split('.')[1]}.{signature}"


def key_confusion(token: str, keys: dict[str, Any]) -> str:
    """An HS256 token whose HMAC key is the provider's public key, which anybody has: a
    verifier that let the token's header choose the algorithm would accept it. (Made by
    hand: PyJWT itself refuses a PEM key as an HMAC secret.)"""
    entry = keys["keys"][0]
    public = jwt.PyJWK(entry).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signed = with_header(token, {"alg": "HS256", "typ": "JWT", "kid": entry["kid"]})[:-1]
    digest = hmac.new(public, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{b64(digest)}"


def edited(token: str) -> str:
    """The token with its subject changed after signing: the signature no longer matches."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "C-002"
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


def expired_token(issued: Issued) -> tuple[str, float]:
    """A token of the client whose tokens live 2 s, once past the api's leeway."""
    token = issued.token("brief", "quotes")
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    waited = max(0.0, exp + LEEWAY_S + 1 - time.time())
    time.sleep(waited)
    return token, waited


LEEWAY_S = 5  # services/api/bearer.py's (tests/unit/test_auth_quota.py keeps them equal)


def authentication(issued: Issued) -> dict[str, Any]:
    valid = issued.token("C-001", "quotes")
    keys = published_keys()
    expired, waited = expired_token(issued)
    tried = {
        "no token": {},
        "alg none": bearer(with_header(valid, {"alg": "none", "typ": "JWT"})),
        "HS256 signed with the public key": bearer(key_confusion(valid, keys)),
        "another audience": bearer(issued.token("C-001", "quotes", ELSEWHERE)),
        "claims edited after signing": bearer(edited(valid)),
        "expired": bearer(expired),
        "valid": bearer(valid),
    }
    with client() as http:
        answers = {
            name: answer_of(http.post(secure("/quotes"), json=QUOTE, headers=headers))
            for name, headers in tried.items()
        }
    return {
        "answers": answers,
        "waited_for_expiry_s": round(waited, 1),
        "holds": verdicts.authentication_holds(answers),
    }


# ---- authorization


def authorization(issued: Issued) -> dict[str, Any]:
    alice = issued.token("C-001", "orders.read orders.write")
    bob = issued.token("C-002", "orders.read orders.write")
    reader = issued.token("reader", "orders.read")
    order = {"customer_id": "C-001", "sequence": 1, "amount_cents": 1250}
    with client() as http:
        once = {"Idempotency-Key": uuid.uuid4().hex}
        placed = http.post(secure("/orders"), json=order, headers=bearer(alice) | once)
        order_id = placed.json().get("order_id", "O-unknown") if placed.status_code == 201 else ""
        answers = {
            "the owner places an order": answer_of(placed),
            "a token without orders.write places one": answer_of(
                http.post(
                    secure("/orders"),
                    json=order,
                    headers=bearer(reader),
                )
            ),
            "the owner reads it": answer_of(
                http.get(secure(f"/orders/{order_id}"), headers=bearer(alice))
            ),
            "another customer reads it": answer_of(
                http.get(secure(f"/orders/{order_id}"), headers=bearer(bob))
            ),
            "another customer lists the owner's orders": answer_of(
                http.get(secure("/orders"), params={"customer_id": "C-001"}, headers=bearer(bob))
            ),
            "another customer places an order as the owner": answer_of(
                http.post(secure("/orders"), json=order, headers=bearer(bob))
            ),
        }
    holds = verdicts.authorization_holds(answers)
    return {"order_id": order_id, "answers": answers, "holds": holds}


# ---- at the edge or in the service

# Run inside an api container (the network `back`, where nginx is not on the path):
# POST /quotes to URL with no token, over HTTPS with INSIDE_CERT/INSIDE_KEY as client
# certificate when given; prints the status.
INSIDE = (
    mutual_tls.CLIENT_CONTEXT
    + """
import json, sys, urllib.error, urllib.request
body = json.dumps({"sku": "BOOK-42", "quantity": 2}).encode()
request = urllib.request.Request(sys.argv[1], body, {"Content-Type": "application/json"})
context = client_context("INSIDE") if os.environ.get("INSIDE_CERT") else None
try:
    print(urllib.request.urlopen(request, timeout=5, context=context).status)
except urllib.error.HTTPError as error:
    print(error.code)
"""
)


def status_inside(url: str, pair: tuple[str, str] = ("", "")) -> int:
    """A request from inside the network, as any container there could send one."""
    files = TlsFiles.in_directory(DEFAULT_DIR)
    environment = mutual_tls.pair_environment(files, pair, "INSIDE")
    out, err = mutual_tls.python_in_api(INSIDE, [url], environment)
    if not out:
        raise RuntimeError(f"no status from {url}: {err[-300:]}")
    return int(out)


def edge(issued: Issued) -> dict[str, Any]:
    alice = issued.token("C-001", "quotes orders.read orders.write")
    reader = issued.token("reader", "orders.read")
    with client() as http:
        answers = {
            "no token, through nginx's /edge/": answer_of(
                http.post(edge_url("/quotes"), json=QUOTE)
            ),
            "a token without the scope, through nginx's /edge/": answer_of(
                http.post(edge_url("/quotes"), json=QUOTE, headers=bearer(reader))
            ),
            "a valid token, through nginx's /edge/": answer_of(
                http.post(edge_url("/quotes"), json=QUOTE, headers=bearer(alice))
            ),
        }
    with httpx.Client(timeout=10) as plain:
        l4 = plain.post(f"{config.proxy_l4_url()}/quotes", json=QUOTE)
    answers["no token, on nginx's layer-4 port"] = answer_of(l4)
    files = TlsFiles.in_directory(DEFAULT_DIR)
    ours = mutual_tls.client_pair("ours", "api-auth", files)
    reached = {
        "a default replica (checked at the edge)": status_inside("http://api:8000/quotes"),
        # With a certificate the sandbox's CA signed (as nginx has): the token is checked.
        "api-auth (checked in the service)": status_inside("https://api-auth:8443/quotes", ours),
        # Without one, no request is even read (mutual TLS: the mtls part).
        "api-auth, no client certificate": mutual_tls.probe("api-auth", "no certificate", files)[
            "outcome"
        ],
    }
    return {"answers": answers, "inside_the_network": reached,
            "holds": verdicts.edge_holds(answers, reached)}  # fmt: skip


def edge_url(path: str) -> str:
    return f"{config.proxy_url()}/edge{path}"


# ---- requests per identity

LIMIT, WINDOW_S = 200, 10.0  # services/api/quota.py's (a unit test keeps them equal)


def limits(issued: Issued) -> dict[str, Any]:
    """LIMIT + 20 quotes as fast as one connection goes, as C-002; then one as C-001."""
    noisy = issued.token("C-002", "quotes")
    quiet = issued.token("C-001", "quotes")
    sent: list[tuple[float, int, str | None]] = []
    started = time.monotonic()
    with client() as http:
        for _ in range(LIMIT + 20):
            at = time.monotonic() - started
            answer = http.post(secure("/quotes"), json=QUOTE, headers=bearer(noisy))
            sent.append((at, answer.status_code, answer.headers.get("retry-after")))
        other = http.post(secure("/quotes"), json=QUOTE, headers=bearer(quiet)).status_code
    took = sent[-1][0] if sent else 0.0
    statuses = Counter(status for _, status, _ in sent)
    return {
        "sent": len(sent),
        "took_s": round(took, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "first_429": next((i for i, (_, status, _) in enumerate(sent) if status == 429), None),
        "retry_after_s": sorted({int(r) for _, status, r in sent if status == 429 and r}),
        "other_identity_status": other,
        "holds": verdicts.limits_holds(sent, other, LIMIT, WINDOW_S),
    }


# ---- quotes priced over mutual TLS


def priced_over_mutual_tls(issued: Issued) -> dict[str, Any]:
    token = issued.token("C-001", "quotes")

    def send(http: httpx.Client) -> int:
        return http.post(secure("/quotes"), json=QUOTE, headers=bearer(token)).status_code

    return mutual_tls.mutual_tls(send)


# ---- the signing key rotated under load


def key_rotation(issued: Issued) -> dict[str, Any]:
    def send(http: httpx.Client, token: str) -> int:
        return http.post(secure("/quotes"), json=QUOTE, headers=bearer(token)).status_code

    return rotation.rotation(lambda: issued.token("C-001", "quotes"), send)


# ---- secrets in logs and in the environment


def secrets_in_logs(since: str, used: list[str]) -> dict[str, Any]:
    """How many of `used` (tokens, client secrets, Hydra's system secret) each of the
    lesson's services logged, or holds in its containers' environment."""
    logged: dict[str, int] = {}
    in_environment: dict[str, int] = {}
    for service in LOGGED_SERVICES:
        names = [c.name for c in docker.containers(service)]
        text = "".join("".join(docker.log_streams(name, since)) for name in names)
        logged[service] = sum(1 for secret in used if secret in text)
        values = "\n".join(v for name in names for v in docker.environment(name).values())
        in_environment[service] = sum(1 for secret in used if secret in values)
    return {
        "services": list(LOGGED_SERVICES),
        "secrets_looked_for": len(used),
        "found_per_service": logged,
        "found_in_environment": in_environment,
        "holds": verdicts.secrets_holds(logged, len(used), in_environment),
    }


# ---- the feed and signaling, signed in


def signed_in_pages(issued: Issued) -> dict[str, Any]:
    token = issued.token("C-001", "orders.read orders.write")
    claims = jwt.decode(token, options={"verify_signature": False})
    return sessions.sessions(token, claims["exp"] - claims["iat"], issued)


def lesson_secrets() -> list[str]:
    """The clients' secrets, Hydra's system secret (made by `make up`) and the users'
    passwords."""
    passwords = [user_password(name) for name, _, _ in AUTH_USERS]
    return [*auth_client_secrets().values(), HYDRA_SYSTEM_SECRET.read_text().strip(), *passwords]


def run() -> ScenarioResult:
    require_proxy()
    require_lesson_service("hydra", lambda: bool(docker.containers("hydra")), NAME)
    since = str(int(time.time()) - 1)
    issued = Issued()
    parts = run_parts(
        {
            "tokens": lambda: tokens(issued),
            "authentication": lambda: authentication(issued),
            "authorization": lambda: authorization(issued),
            "edge": lambda: edge(issued),
            "limits": lambda: limits(issued),
            "privileges": lambda: privileges.privileges(issued),
            "mtls": lambda: priced_over_mutual_tls(issued),
            "rotation": lambda: key_rotation(issued),
            "signin": lambda: signin.code_flow(issued),
            "csrf": lambda: signin.csrf(issued),
            "guessing": lambda: signin.guessing(issued),
            "sessions": lambda: signed_in_pages(issued),
            "secrets": lambda: secrets_in_logs(since, [*issued, *lesson_secrets()]),
        }
    )
    return from_parts(NAME, parts, parts)
