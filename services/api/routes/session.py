"""The browser's session (lesson auth: api/session.py): POST /session trades a bearer
token for a session cookie, GET /session says whose it is, DELETE /session ends it;
`signed_in` guards the feed and signaling on the replica given an issuer (api-auth).
The other replicas answer 404 here and guard nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, WebSocketException
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from api import bearer, session
from api.routes.signin import own_origin

router = APIRouter(prefix="/session", tags=["session"], include_in_schema=False)
POLICY_VIOLATION = 1008  # a WebSocket refused before it opens: the client sees 403


def redis_of(connection: HTTPConnection) -> Any:
    hub = connection.app.state.feed
    if hub is None:
        raise HTTPException(503, "sessions live in Redis, which is not configured")
    return hub.redis


def verifier_of(connection: HTTPConnection) -> bearer.Verifier:
    verifier = connection.app.state.verifier
    if verifier is None:
        raise HTTPException(404, "this replica signs nobody in (it is given no issuer)")
    return verifier


def require_own_origin(connection: HTTPConnection) -> None:
    if not session.origin_holds(connection.headers.get("origin"), own_origin()):
        raise session.OriginRefusedError(
            f"sent from another site's page (Origin: {connection.headers.get('origin') or 'none'}; "
            f"expected {own_origin()})"
        )


def with_cookie(response: Response, session_id: str, max_age_s: int) -> Response:
    response.set_cookie(session.COOKIE, session_id, max_age=max_age_s, path="/", secure=True,
                        httponly=True, samesite="strict")  # fmt: skip
    return response


@router.post("")
async def start(request: Request) -> Response:
    """A session for the bearer token's subject, living as long as the token."""
    verifier = verifier_of(request)
    require_own_origin(request)
    caller = await verifier.caller(request.headers.get("authorization"))
    caller.require(session.READ_SCOPE)
    session_id = await session.create(
        redis_of(request), caller.subject, caller.scopes, caller.expires_at
    )
    lifetime = session.lifetime_s(caller.expires_at)
    body = {"subject": caller.subject, "scopes": sorted(caller.scopes), "expires_in": lifetime}
    return with_cookie(JSONResponse(body, 201), session_id, lifetime)


@router.get("")
async def current(request: Request) -> dict[str, Any]:
    verifier_of(request)
    found = await session.find(redis_of(request), request.cookies.get(session.COOKIE))
    return {"subject": found.subject, "scopes": sorted(found.scopes),
            "expires_in": session.lifetime_s(found.expires_at)}  # fmt: skip


@router.delete("", status_code=204)
async def end(request: Request) -> Response:
    verifier_of(request)
    require_own_origin(request)
    await session.end(redis_of(request), request.cookies.get(session.COOKIE))
    response = Response(status_code=204)
    response.delete_cookie(session.COOKIE, path="/", secure=True, httponly=True,
                           samesite="strict")  # fmt: skip
    return response


async def signed_in(connection: HTTPConnection) -> None:
    """The feed's and signaling's guard on api-auth: a bearer token if one is sent,
    else the session cookie, from this site's pages only; orders.read to read or
    join, orders.write to publish."""
    websocket = connection.scope["type"] == "websocket"
    safe = websocket or connection.scope["method"] in bearer.SAFE_METHODS
    needed = session.READ_SCOPE if safe else session.WRITE_SCOPE
    try:
        if "authorization" in connection.headers:
            caller = await verifier_of(connection).caller(connection.headers["authorization"])
            scopes = caller.scopes
        else:
            if websocket or not safe:
                require_own_origin(connection)
            found = await session.find(redis_of(connection), connection.cookies.get(session.COOKIE))
            scopes = found.scopes
        if needed not in scopes:
            raise bearer.ScopeMissingError(needed)
    except (bearer.TokenRefusedError, bearer.ScopeMissingError, session.SessionRefusedError,
            session.OriginRefusedError) as error:  # fmt: skip
        if websocket:
            raise WebSocketException(POLICY_VIOLATION, str(error)[:120]) from error
        raise


async def refused(_: Request, error: Exception) -> JSONResponse:
    """No session: 401 with a Bearer challenge (a token works too); another site: 403."""
    if isinstance(error, session.OriginRefusedError):
        return JSONResponse({"detail": str(error)}, 403)
    challenge = f'Bearer realm="{bearer.REALM}"'
    return JSONResponse({"detail": str(error)}, 401, {"WWW-Authenticate": challenge})
