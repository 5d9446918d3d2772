"""GET /auth/verify: may this request pass? Asked by nginx's auth_request (lesson auth).

nginx's /edge/ paths check the token once at the proxy instead of in the service
(proxy/auth.py): for each request nginx first sends this route the client's
Authorization header, the method (X-Original-Method), the URI (X-Original-URI) and
the prefix it strips (X-Forwarded-Prefix). The answer is 204 with X-Auth-Subject
when the token is valid and grants the path's scope (api/bearer.py, the same checks
api-auth makes itself), or 401 or 403 with WWW-Authenticate, which nginx hands to
the client. Only the replica given an issuer (api-auth) answers; the others 404.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Header, HTTPException, Request, Response

from api import bearer

router = APIRouter(include_in_schema=False)


@router.get("/auth/verify", status_code=204)
async def verify(
    request: Request,
    # No length limits of their own: nginx bounds them (large_client_header_buffers), and
    # any answer but 2xx, 401 or 403 would reach the client as nginx's 500.
    x_original_method: Annotated[str, Header()] = "GET",
    x_original_uri: Annotated[str, Header()] = "/",
    x_forwarded_prefix: Annotated[str, Header()] = "",
) -> Response:
    verifier: bearer.Verifier | None = request.app.state.verifier
    if verifier is None:
        raise HTTPException(404, "this replica checks no tokens (API_AUTH_ISSUER is not set)")
    caller = await verifier.caller(request.headers.get("authorization"))
    path = urlsplit(x_original_uri).path.removeprefix(x_forwarded_prefix) or "/"
    scope = bearer.scope_for(x_original_method.upper(), path)
    if scope is not None:
        caller.require(scope)
    return Response(status_code=204, headers={"X-Auth-Subject": caller.subject})
