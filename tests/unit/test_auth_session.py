"""The browser's session (services/api/session.py, routes/session.py): a cookie that
names a session in Redis, refused from another site's page, on a WebSocket too."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api import bearer, session
from api.routes import session as session_routes
from api.settings import settings

OWN = "https://127.0.0.1:8443"


class Redis:
    """What the session needs of Redis: set with a lifetime, get, delete."""

    def __init__(self) -> None:
        self.kept: dict[str, tuple[str, int]] = {}

    async def set(self, key: str, value: str, ex: int) -> None:
        self.kept[key] = (value, ex)

    async def get(self, key: str) -> str | None:
        return self.kept[key][0] if key in self.kept else None

    async def delete(self, key: str) -> None:
        self.kept.pop(key, None)


def test_a_session_lives_as_long_as_its_token_and_redis_keeps_only_the_id_s_hash() -> None:
    redis = Redis()
    scopes = frozenset({"orders.read"})
    session_id = asyncio.run(session.create(redis, "C-001", scopes, time.time() + 120))
    ((key, (_, lifetime)),) = redis.kept.items()
    assert session_id not in key and key == session.key_of(session_id)
    assert 118 <= lifetime <= 120
    found = asyncio.run(session.find(redis, session_id))
    assert (found.subject, found.scopes) == ("C-001", scopes)
    asyncio.run(session.end(redis, session_id))
    with pytest.raises(session.SessionRefusedError, match="ended"):
        asyncio.run(session.find(redis, session_id))


@pytest.mark.parametrize("cookie", [None, "", "x" * (session.MAX_COOKIE_CHARS + 1), "unknown"])
def test_no_cookie_a_huge_one_or_an_unknown_one_is_refused(cookie: str | None) -> None:
    with pytest.raises(session.SessionRefusedError):
        asyncio.run(session.find(Redis(), cookie))


def test_an_expired_token_starts_no_session() -> None:
    with pytest.raises(session.SessionRefusedError, match="expired"):
        asyncio.run(session.create(Redis(), "C-001", frozenset(), time.time() - 1))


@pytest.mark.parametrize("origin", [None, "", "https://evil.example", "https://localhost:8443"])
def test_another_site_s_origin_does_not_hold(origin: str | None) -> None:
    assert not session.origin_holds(origin, OWN)


def test_this_site_s_origin_holds() -> None:
    assert session.origin_holds(OWN, OWN)


def guarded_app(redis: Redis) -> FastAPI:
    """A route and a WebSocket behind routes/session.py's guard, as api-auth has them."""
    app = FastAPI(dependencies=[Depends(session_routes.signed_in)])
    app.state.feed = SimpleNamespace(redis=redis)
    app.state.verifier = object()  # a replica given an issuer
    for error in (session.SessionRefusedError, session.OriginRefusedError):
        app.add_exception_handler(error, session_routes.refused)
    app.add_exception_handler(bearer.ScopeMissingError, bearer.refused)

    @app.get("/feed/events")
    async def events() -> dict[str, Any]:
        return {"events": []}

    @app.post("/feed/events")
    async def publish() -> dict[str, Any]:
        return {"id": 1}

    @app.websocket("/feed/ws")
    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text("subscribed")
        await socket.close()

    return app


@pytest.fixture
def signed_in(monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, str]:
    monkeypatch.setattr(settings, "auth_issuer", OWN + "/")
    redis = Redis()
    scopes = frozenset({session.READ_SCOPE})
    session_id = asyncio.run(session.create(redis, "C-001", scopes, time.time() + 60))
    return TestClient(guarded_app(redis), base_url=OWN), session_id


def test_with_its_cookie_the_browser_reads_the_feed_and_opens_the_websocket(
    signed_in: tuple[TestClient, str],
) -> None:
    client, session_id = signed_in
    client.cookies.set(session.COOKIE, session_id)
    assert client.get("/feed/events").status_code == 200
    with client.websocket_connect("/feed/ws", headers={"Origin": OWN}) as ws:
        assert ws.receive_text() == "subscribed"


def test_without_a_cookie_the_feed_answers_401_with_a_bearer_challenge(
    signed_in: tuple[TestClient, str],
) -> None:
    client, _ = signed_in
    answer = client.get("/feed/events")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer realm=")


@pytest.mark.parametrize("origin", [None, "https://evil.example"])
def test_the_cookie_from_another_site_s_page_opens_no_websocket(
    signed_in: tuple[TestClient, str], origin: str | None
) -> None:
    client, session_id = signed_in
    client.cookies.set(session.COOKIE, session_id)
    headers = {"Origin": origin} if origin else {}
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/feed/ws", headers=headers),
    ):
        pass
    assert refused.value.code == session_routes.POLICY_VIOLATION


def test_publishing_needs_this_site_s_origin_and_the_write_scope(
    signed_in: tuple[TestClient, str],
) -> None:
    client, session_id = signed_in
    client.cookies.set(session.COOKIE, session_id)
    elsewhere = {"Origin": "https://evil.example"}
    assert client.post("/feed/events", headers=elsewhere).status_code == 403
    answer = client.post("/feed/events", headers={"Origin": OWN})
    assert answer.status_code == 403  # orders.read only
    assert "orders.write" in answer.headers["www-authenticate"]
