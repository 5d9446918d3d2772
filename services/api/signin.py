"""Signing people in for the browser pages (lesson auth): the login and consent steps
Ory Hydra hands to an app of ours, and what guards them.

Hydra runs OAuth 2.0's authorization code flow with PKCE (RFC 6749 section 4.1,
RFC 7636) but asks somebody else who the person is and what they allow: it
redirects the browser to our login page with a `login_challenge`, then to our
consent page with a `consent_challenge`, and we answer each on its admin API
(accept or reject); the browser then goes back to Hydra, which issues the code.

What guards the steps:
- passwords: only scrypt hashes reach the container (a Compose secret made by
  `make up` from local defaults that `.env` may override); an unknown user name
  costs the same hash as a known one, and gets the same answer as a wrong password;
- guessing: each user's failed sign-ins are counted in Redis over a window; each
  failure answers later than the one before (FIRST_DELAY_S, doubling), and after
  LOCK_AFTER of them the user is locked (429, Retry-After) until the window ends,
  whatever the password. Redis away, nobody signs in (503): guessing at full speed
  is worse than a sign-in that waits;
- forged forms (CSRF): every form carries a token that must equal the one in a
  `__Host-` cookie that is SameSite=Strict, and a request whose Origin is another
  site is refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

# scrypt's cost: one of the OWASP Password Storage Cheat Sheet's equivalent settings
# (N=2^14, r=8, p=5): 16 MiB and about 0.3 s a hash on the 2-core machine. At most
# HASHING_AT_ONCE run together, so a flood of sign-ins cannot take the api past its
# memory limit. The host renders hashes with the same values
# (comms_sandbox/credentials.py, kept equal by a unit test).
SCRYPT = {"n": 2**14, "r": 8, "p": 5, "dklen": 32, "maxmem": 64 * 1024 * 1024}
HASHING_AT_ONCE = 2
LOCK_AFTER = 5
FIRST_DELAY_S = 0.25
MAX_DELAY_S = 4.0
REDIS_WAIT_S = 1.0
ADMIN_TIMEOUT_S = 5.0
MAX_FORM_BYTES = 16 * 1024
MAX_FIELD_CHARS = {"username": 64, "password": 256, "csrf": 64, "challenge": 4096, "action": 8}
USERNAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
CSRF_COOKIE = "__Host-sandbox-csrf"  # __Host-: Secure, Path=/, no Domain (RFC 6265bis 4.1.3.2)


class FormError(Exception):
    """400: the form cannot be read (too large, a field too long, not urlencoded)."""


class CsrfError(Exception):
    """403: the form's CSRF token is not its cookie's, or it came from another site."""

    def __init__(self) -> None:
        super().__init__(
            "the form's CSRF token does not match its cookie, or it was sent from another site: "
            "open the sign-in page again"
        )


class LockedError(Exception):
    """429: this user failed LOCK_AFTER sign-ins within the window."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins for this user: retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class UnavailableError(Exception):
    """503: Redis or Hydra's admin API did not answer; nobody is signed in meanwhile."""


class ChallengeError(Exception):
    """400: Hydra does not know the challenge (made up, or used already)."""


# ---- passwords


@dataclass(frozen=True)
class User:
    name: str
    subject: str  # the token's `sub`: the customer whose orders this person may reach
    salt: bytes
    digest: bytes


def scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)  # type: ignore[arg-type]


def load_users(path: str) -> dict[str, User]:
    """The users file: {"alice": {"subject": "C-001", "salt": hex, "scrypt": hex}, ...}."""
    if not path or not Path(path).exists():
        return {}
    document = json.loads(Path(path).read_text())
    return {
        name: User(name, str(u["subject"]), bytes.fromhex(u["salt"]), bytes.fromhex(u["scrypt"]))
        for name, u in document.items()
    }


UNKNOWN = User("", "", b"\0" * 16, b"\0" * 32)  # hashed against so unknown names cost the same


HASHING = asyncio.Semaphore(HASHING_AT_ONCE)


async def authenticated(users: dict[str, User], name: str, password: str) -> User | None:
    """The user, if the password is theirs (hashed in a thread, HASHING_AT_ONCE at most)."""
    async with HASHING:
        return await asyncio.to_thread(password_holds, users, name, password)


def password_holds(users: dict[str, User], name: str, password: str) -> User | None:
    user = users.get(name, UNKNOWN)
    matches = hmac.compare_digest(scrypt(password, user.salt), user.digest)
    return user if matches and user is not UNKNOWN else None


# ---- guessing


def failure_delay_s(failures: int) -> float:
    """How long the answer to the n-th failed sign-in in a row waits."""
    return min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** max(0, failures - 1))


class Throttle:
    """Each user's failed sign-ins, counted in Redis over window_s from the first."""

    def __init__(self, redis: Redis | None, window_s: int) -> None:
        self.redis = redis
        self.window_s = window_s

    @staticmethod
    def key(name: str) -> str:
        return f"signin-failures:{name}"

    async def check(self, name: str) -> None:
        """LockedError while the user has LOCK_AFTER failures in the window."""
        count, ttl = await self.run(lambda pipe: pipe.get(self.key(name)).ttl(self.key(name)))
        if int(count or 0) >= LOCK_AFTER:
            raise LockedError(max(1, int(ttl)) if ttl and ttl > 0 else self.window_s)

    async def failed(self, name: str) -> int:
        """Count a failure; how many there are now."""
        count, _ = await self.run(
            lambda pipe: pipe.incr(self.key(name)).expire(self.key(name), self.window_s, nx=True)
        )
        return int(count)

    async def succeeded(self, name: str) -> None:
        await self.run(lambda pipe: pipe.delete(self.key(name)))

    async def run(self, commands: Any) -> list[Any]:
        if self.redis is None:
            raise UnavailableError("sign-in needs Redis (API_REDIS_URL is not set)")
        try:
            async with asyncio.timeout(REDIS_WAIT_S), self.redis.pipeline() as pipe:
                commands(pipe)
                return await pipe.execute()
        except (RedisError, OSError, TimeoutError) as error:
            raise UnavailableError(
                f"sign-in is unavailable: Redis did not answer ({error})"
            ) from None


# ---- forms and CSRF


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def form_fields(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body, each field within its length."""
    if len(body) > MAX_FORM_BYTES:
        raise FormError(f"the form is larger than {MAX_FORM_BYTES} bytes")
    try:
        pairs = urllib.parse.parse_qsl(body.decode(), strict_parsing=bool(body), max_num_fields=8)
    except (UnicodeDecodeError, ValueError) as error:
        raise FormError(f"the form is not urlencoded text: {error}") from None
    fields = dict(pairs)
    for name, limit in MAX_FIELD_CHARS.items():
        if len(fields.get(name, "")) > limit:
            raise FormError(f"the field {name} is longer than {limit} characters")
    return fields


def csrf_holds(cookie: str | None, field: str, origin: str | None, own_origin: str) -> bool:
    """The form's token equals its cookie's, and the request did not come from another
    site (browsers send Origin on every cross-origin POST; no Origin: not a browser's
    cross-site form, which the cookie test covers anyway)."""
    if origin is not None and origin != own_origin:
        return False
    return bool(cookie) and bool(field) and hmac.compare_digest(cookie or "", field)


# ---- Hydra's admin API


class Hydra:
    """The login and consent requests on Hydra's admin API (only on the network `back`)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url.rstrip("/")

    async def login_request(self, challenge: str) -> dict[str, Any]:
        return await self.call("GET", "login", challenge)

    async def accept_login(self, challenge: str, subject: str) -> str:
        answer = await self.call("PUT", "login/accept", challenge, {"subject": subject})
        return str(answer["redirect_to"])

    async def consent_request(self, challenge: str) -> dict[str, Any]:
        return await self.call("GET", "consent", challenge)

    async def accept_consent(self, challenge: str, request: dict[str, Any]) -> str:
        """Grants what the client asked for: the scopes and audiences Hydra already
        checked against the client's registration."""
        grant = {
            "grant_scope": request.get("requested_scope") or [],
            "grant_access_token_audience": request.get("requested_access_token_audience") or [],
            "remember": False,
        }
        answer = await self.call("PUT", "consent/accept", challenge, grant)
        return str(answer["redirect_to"])

    async def reject_consent(self, challenge: str) -> str:
        refusal = {"error": "access_denied", "error_description": "the person did not allow it"}
        answer = await self.call("PUT", "consent/reject", challenge, refusal)
        return str(answer["redirect_to"])

    async def call(
        self, method: str, step: str, challenge: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        kind = step.split("/", maxsplit=1)[0]
        query = urllib.parse.urlencode({f"{kind}_challenge": challenge})
        url = f"{self.admin_url}/admin/oauth2/auth/requests/{step}?{query}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data, {"Content-Type": "application/json"},
                                         method=method)  # fmt: skip
        return await asyncio.to_thread(self.send, request)

    @staticmethod
    def send(request: urllib.request.Request) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(request, timeout=ADMIN_TIMEOUT_S) as answer:
                return json.loads(answer.read(64 * 1024))
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500:  # unknown, expired or used: Hydra's 404, 409 or 410
                raise ChallengeError(
                    "this sign-in request is unknown, expired or used already: start again"
                ) from None
            raise UnavailableError(f"the identity provider answered {error.code}") from None
        except (OSError, ValueError) as error:
            raise UnavailableError(f"the identity provider did not answer: {error}") from None
