"""Bearer tokens (RFC 6750) checked in the api: who calls (authentication), and what
the token lets it do (authorization). Lesson auth: scenarios/auth/README.md.

The identity provider (Ory Hydra) signs JWT access tokens and publishes its public
keys as a JWKS (RFC 7517). A token is accepted only when all of this holds:

- its header names an algorithm on ALGORITHMS, all asymmetric: `alg: none`, and an
  HS256 token "signed" with the provider's public key as the HMAC secret (the classic
  key-confusion attack), are refused before any key is looked at;
- its `kid` names a key of the provider's JWKS, of that same algorithm; an unknown
  kid fetches the JWKS again (the provider rotated its key). Fetches are at least
  KEYS_REFRESH_S apart, so made-up kids cannot turn into a flood of them: a request
  with an unknown kid waits for the next one (shared by all who wait) rather than
  being refused, because Hydra signs with a new key the moment it has it; a key set
  older than its max age is fetched again too, so a key the provider retired stops
  verifying within that age (a failed fetch then keeps the old set: the provider
  being down for a moment must not refuse every caller);
- the signature verifies, `iss` is the provider, `aud` holds this api, and `exp`
  and `nbf` hold with LEEWAY_S for clocks that differ a little.

What fails answers 401 with `WWW-Authenticate: Bearer error="invalid_token"` and
the reason; a valid token without the scope an operation needs answers 403 with
`error="insufficient_scope"` (RFC 6750, section 3.1). A request with no token at
all gets the challenge without an error code, as section 3.1 asks. Nothing here
logs a token: the reasons name the claim that failed, never its value.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer

LOG = logging.getLogger(__name__)
ALGORITHMS = ("RS256", "ES256")
LEEWAY_S = 5  # the containers share one clock; between machines NTP keeps them closer
KEYS_REFRESH_S = 1.0
KEYS_MAX_AGE_S = 60.0  # how long a retired key may go on verifying (API_AUTH_KEYS_MAX_AGE_S)
MAX_JWKS_BYTES = 64 * 1024
MAX_TOKEN_CHARS = 8192  # Hydra's tokens are about 1 KiB; the api's header limit is 16 KiB
REALM = "comms-sandbox"
# RFC 6750, section 2.1: b64token; RFC 7519: a JWS compact serialization is three of them.
TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class TokenRefusedError(Exception):
    """401: no token, or one that does not authenticate anybody; `reason` says why."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason or "no bearer token")
        self.reason = reason

    def challenge(self) -> str:
        if self.reason is None:  # no credentials at all: no error code (RFC 6750, 3.1)
            return f'Bearer realm="{REALM}"'
        reason = quoted(self.reason)
        return f'Bearer realm="{REALM}", error="invalid_token", error_description="{reason}"'


class ScopeMissingError(Exception):
    """403: a valid token that does not grant `scope`."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"this operation needs the scope {scope}")
        self.scope = scope

    def challenge(self) -> str:
        return (
            f'Bearer realm="{REALM}", error="insufficient_scope", scope="{self.scope}", '
            f'error_description="{quoted(str(self))}"'
        )


def quoted(text: str) -> str:
    """error_description's allowed characters (RFC 6750, 3): printable ASCII but `"` and `\\`."""
    return "".join(c for c in text if " " <= c <= "~" and c not in '"\\')


class KeysUnavailableError(Exception):
    """503: the provider's keys were needed and could not be fetched (it is down)."""


@dataclass(frozen=True)
class Caller:
    """Who a valid token authenticates, and what it grants."""

    subject: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float = 0.0  # the token's exp (seconds since the epoch)

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise ScopeMissingError(scope)


Fetch = Callable[[], Awaitable[dict[str, Any]]]


class KeySet:
    """The provider's public keys, fetched on first use, on an unknown kid, and once
    they are older than max_age_s."""

    def __init__(
        self,
        fetch: Fetch,
        clock: Callable[[], float] = time.monotonic,
        max_age_s: float = KEYS_MAX_AGE_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.fetch = fetch
        self.clock = clock
        self.sleep = sleep
        self.max_age_s = max_age_s
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at: float | None = None
        self.verified_at: float | None = None  # the last fetch that answered
        self.next_fetch: asyncio.Future[None] | None = None

    async def key(self, kid: str) -> jwt.PyJWK:
        if kid not in self.keys:
            await self.refresh_soon()
        elif self.stale() and self.may_refresh():
            await self.refresh_keeping_on_failure()
        if kid not in self.keys:
            raise TokenRefusedError("the token's key id (kid) is not among the provider's keys")
        return self.keys[kid]

    def may_refresh(self) -> bool:
        return self.wait_s() == 0

    def wait_s(self) -> float:
        """How long until the next fetch may go out."""
        if self.fetched_at is None:
            return 0.0
        return max(0.0, KEYS_REFRESH_S - (self.clock() - self.fetched_at))

    async def refresh_soon(self) -> None:
        """The next fetch, as soon as it may go: one for every request that waits on it
        (shielded: a waiter that gives up does not cancel it for the others)."""
        if self.next_fetch is None:
            self.next_fetch = asyncio.ensure_future(self.refresh_after(self.wait_s()))
        await asyncio.shield(self.next_fetch)

    async def refresh_after(self, wait_s: float) -> None:
        try:
            if wait_s > 0:
                await self.sleep(wait_s)
            await self.refresh()
        finally:
            self.next_fetch = None

    def stale(self) -> bool:
        return self.verified_at is None or self.clock() - self.verified_at >= self.max_age_s

    async def refresh_keeping_on_failure(self) -> None:
        try:
            await self.refresh()
        except KeysUnavailableError as error:
            LOG.warning("keeping the provider's keys fetched earlier: %s", error)

    async def refresh(self) -> None:
        self.fetched_at = self.clock()
        try:
            document = await self.fetch()
        except (OSError, ValueError) as error:  # unreachable, timed out, not JSON
            raise KeysUnavailableError(f"the identity provider's keys: {error}") from None
        keys = {}
        for entry in document.get("keys", []):
            if entry.get("use", "sig") == "sig" and entry.get("alg") in ALGORITHMS:
                try:
                    keys[str(entry["kid"])] = jwt.PyJWK(entry)
                except (KeyError, jwt.PyJWKError, jwt.InvalidKeyError):
                    continue  # a malformed entry verifies nothing; the others still do
        self.keys = keys
        self.verified_at = self.fetched_at


# What PyJWT raises, and the reason the client is told.
REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired (exp)"),
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf or iat)"),
    (jwt.InvalidAudienceError, "the token is meant for another audience (aud)"),
    (jwt.InvalidIssuerError, "the token comes from another issuer (iss)"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
)


class Verifier:
    """Checks a request's Authorization header against one issuer and one audience."""

    def __init__(self, issuer: str, audience: str, keys: KeySet) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = keys

    async def caller(self, authorization: str | None) -> Caller:
        token = bearer_token(authorization)
        header = unverified_header(token)
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise TokenRefusedError(
                f"algorithm {str(algorithm)[:20]} is not accepted (only {', '.join(ALGORITHMS)})"
            )
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenRefusedError("the token names no key id (kid)")
        key = await self.keys.key(kid)
        if key.algorithm_name != algorithm:
            raise TokenRefusedError("the token's algorithm is not its key's")
        return caller_of(self.claims(token, key.key, algorithm))

    def claims(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token, key, algorithms=[algorithm], audience=self.audience, issuer=self.issuer,
                leeway=LEEWAY_S, options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )  # fmt: skip
        except jwt.PyJWTError as error:
            raise TokenRefusedError(reason_of(error)) from None


def reason_of(error: jwt.PyJWTError) -> str:
    for kind, reason in REASONS:
        if isinstance(error, kind):
            return reason
    return "the token is malformed"


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise TokenRefusedError(None)
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":  # auth schemes are case-insensitive (RFC 9110, 11.1)
        raise TokenRefusedError(None)
    token = token.strip()
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRefusedError(f"the token is longer than {MAX_TOKEN_CHARS} characters")
    if not TOKEN.fullmatch(token):
        raise TokenRefusedError("the token is not a b64token (RFC 6750, 2.1)")
    return token


def unverified_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except (jwt.DecodeError, json.JSONDecodeError, UnicodeDecodeError):
        raise TokenRefusedError("the token is not a JWT") from None


def caller_of(claims: dict[str, Any]) -> Caller:
    """Hydra puts scopes in `scp` (a list); RFC 9068 in `scope` (a space-separated string)."""
    scopes = claims.get("scp")
    if not isinstance(scopes, list):
        scopes = str(claims.get("scope", "")).split()
    return Caller(
        subject=str(claims["sub"]),
        client_id=str(claims.get("client_id", "")),
        scopes=frozenset(str(s) for s in scopes),
        expires_at=float(claims.get("exp", 0)),
    )


# ---- in FastAPI: a dependency per router, and what a refusal answers

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The scopes (for safe methods, for the others) each guarded path needs: the api's own
# routers (api/main.py) and nginx's auth_request (api/routes/verify.py) use the same.
ROUTE_SCOPES = {"/orders": ("orders.read", "orders.write"), "/quotes": ("quotes", "quotes")}


def scope_for(method: str, path: str) -> str | None:
    """The scope a request needs; None for a path no scope guards (a token is enough)."""
    for prefix, (read, write) in ROUTE_SCOPES.items():
        if path == prefix or path.startswith(f"{prefix}/"):
            return read if method in SAFE_METHODS else write
    return None


# Shown in the OpenAPI document (an "Authorize" button in /docs); the header itself
# is read and checked by Verifier, so every refusal has the same shape.
SCHEME = HTTPBearer(auto_error=False, bearerFormat="JWT", description="An access token from "
                    "the sandbox's identity provider (lesson auth)")  # fmt: skip


def verifier_from(
    issuer: str, audience: str, jwks_url: str, max_age_s: float = KEYS_MAX_AGE_S
) -> Verifier:
    """The api's Verifier: the JWKS fetched over HTTP from the provider, inside `back`,
    with urllib in a thread (a fetch is rare: first use and a new kid)."""

    def fetch_now() -> dict[str, Any]:
        with urllib.request.urlopen(jwks_url, timeout=2.0) as answer:
            return json.loads(answer.read(MAX_JWKS_BYTES))

    async def fetch() -> dict[str, Any]:
        return await asyncio.to_thread(fetch_now)

    return Verifier(issuer, audience, KeySet(fetch, max_age_s=max_age_s))


def guard(verifier: Verifier, read_scope: str, write_scope: str) -> Callable[..., Awaitable[None]]:
    """A dependency: the caller, authenticated, in request.state.caller; read_scope for
    safe methods, write_scope for the others."""

    async def authenticated(
        request: Request, _: Annotated[object, Security(SCHEME)] = None
    ) -> None:
        caller = await verifier.caller(request.headers.get("authorization"))
        caller.require(read_scope if request.method in SAFE_METHODS else write_scope)
        request.state.caller = caller

    return authenticated


def caller(request: Request) -> Caller | None:
    """The authenticated caller; None where the api asks for no token."""
    return getattr(request.state, "caller", None)


async def keys_unavailable(_: Request, error: Exception) -> JSONResponse:
    """The provider is down: not the client's fault, and a retry may work."""
    return JSONResponse({"detail": str(error)}, 503, {"Retry-After": str(int(KEYS_REFRESH_S))})


async def refused(_: Request, error: Exception) -> JSONResponse:
    """401 or 403 with the reason, in the body and in WWW-Authenticate."""
    assert isinstance(error, TokenRefusedError | ScopeMissingError)
    status = 401 if isinstance(error, TokenRefusedError) else 403
    return JSONResponse({"detail": str(error)}, status, {"WWW-Authenticate": error.challenge()})
