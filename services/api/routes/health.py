"""Liveness and readiness: /healthz says the process runs, /readyz that its dependencies answer."""

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool

from api.settings import settings


async def database_health(pool: AsyncConnectionPool) -> str:
    """SERVING when a pooled connection answers a query within the pool's wait, else why not."""
    try:
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"NOT_SERVING: {type(exc).__name__}"
    return "SERVING"


router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: every dependency answers",
    responses={503: {"description": "A dependency is not ready"}},
)
async def readyz(request: Request) -> JSONResponse:
    pricing = await request.app.state.pricing.health(settings.readiness_timeout_s)
    checks = {"pricing": pricing}
    if request.app.state.database is not None:
        checks["postgres"] = await database_health(request.app.state.database)
    ready = all(value == "SERVING" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
