"""Liveness and readiness: /healthz says the process runs, /readyz that its dependencies answer."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.settings import settings

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
    ready = all(value == "SERVING" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
