"""The api application: routes, its clients' lifecycle, and replica evidence headers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import psycopg
import telemetry
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from feed.hub import Hub
from redis.asyncio import Redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import bearer, quota, session
from api.database import database, database_error_handler
from api.early_data import TooEarly
from api.events import build_fanout
from api.guards import COMMON_RESPONSES, MAX_BODY_BYTES, HeaderLimit, validation_error
from api.identity import HOSTNAME
from api.observability import RequestTelemetry
from api.pricing_client import PricingClient
from api.routes import delay, feed, health, orders, quotes, signaling, verify, whoami, wire
from api.routes import session as session_routes
from api.routes import signin as signin_routes
from api.settings import settings


def tracing_module() -> ModuleType | None:
    """api.tracing when tracing is switched on (its clients instrumented now), else None.

    Imported here, not at the top: with tracing off (the default, and whenever the
    observability lesson is not running) no instrumentation is loaded at all.
    """
    if not telemetry.setup("api"):
        return None
    from api import tracing  # noqa: PLC0415 - only when switched on

    tracing.instrument_clients()
    return tracing


# Before anything makes a gRPC channel or a broker connection: they are instrumented as made.
TRACING = tracing_module()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pricing = PricingClient(
        settings.pricing_target,
        settings.pricing_timeout_s,
        settings.pricing_resilience,
        settings.pricing_tls_dir,
    )
    app.state.events = build_fanout(settings)
    # Redis is connected on first use, so the api starts without it.
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    app.state.feed = Hub(redis) if redis is not None else None
    # Orders' PostgreSQL: opened without waiting, so the api starts (and answers 503
    # for orders) while the database is away; None when API_DATABASE_URL is empty.
    async with database(settings) as pool:
        app.state.database = pool
        yield
    if app.state.feed is not None:
        await app.state.feed.close()
        await redis.aclose()
    await app.state.events.close()
    await app.state.pricing.close()


class ServedBy:
    """Every HTTP response names the replica that produced it, so a client can count replicas.

    Plain ASGI rather than @app.middleware("http"), which would buffer nothing
    but wraps each response in a task: streamed responses (SSE) pass untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-served-by", HOSTNAME.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_header)


app = FastAPI(
    title="comms-sandbox api",
    summary="FastAPI replicas behind nginx: request-response, replica identity, health, a feed.",
    version="0.1.0",
    lifespan=lifespan,
    # Also through the layer-4 and passthrough ports, where nginx reads no HTTP.
    max_body_size=MAX_BODY_BYTES,
    # FastAPI's own OpenTelemetry layer stays off: with tracing on, the spans come from
    # OpenTelemetry's FastAPI instrumentation (api/tracing.py), which FastAPI defers to;
    # off, each request then skips even FastAPI's look for a configured provider.
    telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
)
# Innermost: a 425 still names its replica, and is logged and counted like any answer.
app.add_middleware(TooEarly)
app.add_middleware(ServedBy)
app.add_middleware(RequestTelemetry, tag_span=TRACING.tag_current_span if TRACING else None)
app.add_middleware(HeaderLimit)  # added last, so it runs first
app.add_exception_handler(RequestValidationError, validation_error)
# PostgreSQL down, restarting or slow: 503 or 504 with a reason (api/database.py).
app.add_exception_handler(psycopg.Error, database_error_handler(settings))
# Lesson auth: the scopes (read, write) each guarded router's routes need, when the
# api is given an issuer (the lesson's api-auth replica; the default stack's ask nothing).
GUARDED = {orders: bearer.ROUTE_SCOPES["/orders"], quotes: bearer.ROUTE_SCOPES["/quotes"]}
AUTH_RESPONSES = {
    401: {"description": "No bearer token, or one that is refused (WWW-Authenticate says why)"},
    403: {"description": "The token lacks the scope this operation needs, or the order is "
                         "another customer's"},
    429: {"description": "This identity sent too many requests (Retry-After says when)"},
}  # fmt: skip


# One for every guarded router: one copy of the provider's keys.
VERIFIER = (
    bearer.verifier_from(
        settings.auth_issuer,
        settings.auth_audience,
        settings.auth_jwks_url,
        settings.auth_keys_max_age_s,
    )
    if settings.auth_issuer
    else None
)


# ...and the routers a signed-in browser uses (a session cookie, or a token).
SIGNED_IN = (feed, signaling)


def guards_of(module: ModuleType) -> tuple[list[Any], dict[int | str, dict[str, Any]]]:
    """The dependencies and extra documented answers of a router: none unless guarded."""
    if VERIFIER is None:
        return [], {}
    if module in SIGNED_IN:
        return [Depends(session_routes.signed_in)], AUTH_RESPONSES
    if module not in GUARDED:
        return [], {}
    return [Depends(bearer.guard(VERIFIER, *GUARDED[module])), Depends(limited)], AUTH_RESPONSES


async def limited(request: Request) -> None:
    """Each identity's requests counted, after its token was checked (api/quota.py)."""
    caller = bearer.caller(request)
    hub = request.app.state.feed  # the replicas' shared Redis
    if caller is not None and hub is not None:
        await quota.charge(hub.redis, caller.subject)


async def rate_limited(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, quota.RateLimitedError)
    return JSONResponse({"detail": str(error)}, 429, {"Retry-After": str(error.retry_after_s)})


app.add_exception_handler(bearer.TokenRefusedError, bearer.refused)
app.add_exception_handler(bearer.ScopeMissingError, bearer.refused)
app.add_exception_handler(bearer.KeysUnavailableError, bearer.keys_unavailable)
app.add_exception_handler(quota.RateLimitedError, rate_limited)
for error in signin_routes.STATUS_OF:
    app.add_exception_handler(error, signin_routes.refused)
app.state.verifier = VERIFIER  # nginx's auth_request asks it too (api/routes/verify.py)
for error in (session.SessionRefusedError, session.OriginRefusedError):
    app.add_exception_handler(error, session_routes.refused)
for module in (health, whoami, quotes, delay, orders, feed, signaling, verify, signin_routes,
               session_routes, wire):  # fmt: skip
    dependencies, answers = guards_of(module)
    app.include_router(
        module.router, dependencies=dependencies, responses={**COMMON_RESPONSES, **answers}
    )
app.include_router(feed.pages)
app.include_router(signaling.pages)
if TRACING:
    TRACING.instrument_app(app)  # last: its middleware wraps the whole app
