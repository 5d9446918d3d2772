"""The api application: routes, the pricing client's lifecycle, and replica evidence headers."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from api.events import build_fanout
from api.identity import HOSTNAME
from api.pricing_client import PricingClient
from api.routes import delay, health, orders, quotes, whoami
from api.settings import settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pricing = PricingClient(settings.pricing_target, settings.pricing_timeout_s)
    app.state.events = build_fanout(settings)
    yield
    await app.state.events.close()
    await app.state.pricing.close()


app = FastAPI(
    title="comms-sandbox api",
    summary="FastAPI replicas behind nginx: request-response, replica identity, health.",
    version="0.1.0",
    lifespan=lifespan,
)
app.include_router(health.router)
app.include_router(whoami.router)
app.include_router(quotes.router)
app.include_router(delay.router)
app.include_router(orders.router)


@app.middleware("http")
async def served_by_header(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Every response names the replica that produced it, so a client can count replicas."""
    response = await call_next(request)
    response.headers["X-Served-By"] = HOSTNAME
    return response
