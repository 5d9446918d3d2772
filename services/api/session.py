"""A browser's session (lesson auth): the feed and WebRTC signaling, signed in.

A page that signed in holds an access token in memory and sends it as a bearer
header. EventSource and WebSocket cannot send that header, so the page trades
its token, once, for a session cookie (POST /session): `__Host-sandbox-session`,
Secure, HttpOnly (no script reads it), SameSite=Strict (no other site's page
sends it), living no longer than the token did. The cookie holds a random id;
Redis holds, under the id's SHA-256, who signed in, the token's scopes and the
expiry, and forgets them when the token would have expired.

What a cookie brings back, a session guard must shut out: another site's page
making the browser send it. SameSite=Strict already keeps it off cross-site
requests; a WebSocket is not subject to CORS, so its handshake's Origin is
checked as well (cross-site WebSocket hijacking), and so is a state-changing
request's.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

COOKIE = "__Host-sandbox-session"  # __Host-: Secure, Path=/, no Domain (RFC 6265bis 4.1.3.2)
ID_BYTES = 32
MAX_COOKIE_CHARS = 64
KEY_PREFIX = "session:"
READ_SCOPE = "orders.read"  # the feed and signaling: reading order news, joining a room
WRITE_SCOPE = "orders.write"  # publishing to the feed


class SessionRefusedError(Exception):
    """401: no session cookie, or one that names no live session."""


class OriginRefusedError(Exception):
    """403: a request that carries the cookie was sent from another site's page."""


@dataclass(frozen=True)
class Session:
    subject: str
    scopes: frozenset[str]
    expires_at: float


def key_of(session_id: str) -> str:
    """Redis keeps the id's hash: reading Redis does not hand out sessions."""
    return KEY_PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


def lifetime_s(expires_at: float, now: float | None = None) -> int:
    """Seconds left until the token's expiry: the session's lifetime (0: already over)."""
    return max(0, int(expires_at - (time.time() if now is None else now)))


async def create(redis: Any, subject: str, scopes: frozenset[str], expires_at: float) -> str:
    """A new session for a checked token; its id, for the cookie."""
    ttl = lifetime_s(expires_at)
    if ttl <= 0:
        raise SessionRefusedError("the token has expired")
    session_id = secrets.token_urlsafe(ID_BYTES)
    record = {"sub": subject, "scopes": sorted(scopes), "exp": expires_at}
    await redis.set(key_of(session_id), json.dumps(record), ex=ttl)
    return session_id


async def find(redis: Any, cookie: str | None) -> Session:
    if not cookie or len(cookie) > MAX_COOKIE_CHARS:
        raise SessionRefusedError("no session: sign in at /secure/signin first")
    stored = await redis.get(key_of(cookie))
    if stored is None:
        raise SessionRefusedError("the session has ended (signed out, or its token expired)")
    record = json.loads(stored)
    return Session(str(record["sub"]), frozenset(record["scopes"]), float(record["exp"]))


async def end(redis: Any, cookie: str | None) -> None:
    if cookie and len(cookie) <= MAX_COOKIE_CHARS:
        await redis.delete(key_of(cookie))


def origin_holds(origin: str | None, own_origin: str) -> bool:
    """The page that sent it is this site's (a browser always sends Origin on a
    WebSocket handshake and on a cross-origin or state-changing fetch)."""
    return origin is not None and origin == own_origin
