"""The inventory app: stock per SKU, plus two endpoints that misbehave on purpose.

It does one thing a sidecar can build on: it appends one JSON line per
request to its log file (INVENTORY_LOG_FILE). Authentication, request ids,
retries, rate limits and metrics are not its business.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

LOG_FILE = Path(os.environ.get("INVENTORY_LOG_FILE", "/var/log/inventory/access.log"))
# The log rotates: past this size it becomes access.log.1 (one old file kept).
MAX_LOG_BYTES = int(os.environ.get("INVENTORY_LOG_MAX_BYTES", str(5 * 1024 * 1024)))

app = FastAPI(title="inventory", summary="Stock per SKU.")
_calls = itertools.count(1)


@app.middleware("http")
async def log_line(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    line = {
        "time": datetime.now(UTC).isoformat(),
        "method": request.method,
        "path": request.url.path[:200],
        # The route template ("/items/{sku}"), or null for a path no route matched.
        "route": getattr(route, "path", None),
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    append_line(json.dumps(line))
    return response


def append_line(text: str) -> None:
    """Append one line; rotate first when the file has grown past MAX_LOG_BYTES."""
    if LOG_FILE.exists() and LOG_FILE.stat().st_size > MAX_LOG_BYTES:
        LOG_FILE.replace(LOG_FILE.with_name(LOG_FILE.name + ".1"))
    with LOG_FILE.open("a", encoding="utf-8") as log:
        log.write(text + "\n")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/items/{sku}")
async def item(
    sku: Annotated[str, PathParam(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")],
) -> dict[str, object]:
    return {"sku": sku, "in_stock": sum(map(ord, sku)) % 50}


@app.get("/flaky", summary="Fails every other call with 503, as a briefly overloaded app would")
async def flaky() -> JSONResponse:
    call = next(_calls)
    if call % 2:
        return JSONResponse({"error": "busy, try again"}, status_code=503)
    return JSONResponse({"call": call})


@app.get("/slow")
async def slow(ms: Annotated[int, Query(ge=0, le=10_000)] = 0) -> dict[str, int]:
    await asyncio.sleep(ms / 1000)
    return {"slept_ms": ms}
