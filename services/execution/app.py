"""The same endpoints as an async app and as a sync (thread pool) app.

    GET /io?ms=20          wait: asyncio.sleep in the async app, time.sleep in a pool thread
    GET /cpu?rounds=N      compute in Python (holds the GIL)
    GET /fast              answer at once: the probe that shows a stalled event loop
    GET /blocking?ms=200   async app only: time.sleep inside an async handler (a mistake)
    GET /offloaded?ms=200  async app only: the same call moved to a thread
    GET /whoami            the model and this process's pid

Which app runs, and in how many processes, is chosen by execution.serve.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

from fastapi import FastAPI, Query

from execution.work import MAX_ROUNDS, MAX_WAIT_MS, compute, wait_blocking

Ms = Annotated[int, Query(ge=0, le=MAX_WAIT_MS, description="How long to wait")]
Rounds = Annotated[int, Query(ge=1, le=MAX_ROUNDS, description="Loop iterations to compute")]
MODEL = os.environ.get("EXECUTION_MODEL", "async")
# nginx serves each model under /exec/<model>/: the docs page links there.
ROOT_PATH = os.environ.get("EXECUTION_ROOT_PATH", f"/exec/{MODEL}")


def whoami() -> dict[str, object]:
    return {"model": MODEL, "pid": os.getpid()}


def async_app() -> FastAPI:
    app = FastAPI(title=f"execution model: {MODEL} (async handlers)", root_path=ROOT_PATH)

    @app.get("/io")
    async def io(ms: Ms = 20) -> dict[str, object]:
        await asyncio.sleep(ms / 1000)
        return whoami()

    @app.get("/cpu")
    async def cpu(rounds: Rounds = 100_000) -> dict[str, object]:
        return whoami() | {"result": compute(rounds)}

    @app.get("/blocking")
    async def blocking(ms: Ms = 200) -> dict[str, object]:
        wait_blocking(ms)  # blocks the event loop: every other request on it waits
        return whoami()

    @app.get("/offloaded")
    async def offloaded(ms: Ms = 200) -> dict[str, object]:
        await asyncio.to_thread(wait_blocking, ms)  # the loop goes on meanwhile
        return whoami()

    _common(app)
    return app


def sync_app() -> FastAPI:
    """Plain `def` handlers: FastAPI runs each in a pool thread (40 by default)."""
    app = FastAPI(title=f"execution model: {MODEL} (sync handlers in threads)", root_path=ROOT_PATH)

    @app.get("/io")
    def io(ms: Ms = 20) -> dict[str, object]:
        wait_blocking(ms)
        return whoami()

    @app.get("/cpu")
    def cpu(rounds: Rounds = 100_000) -> dict[str, object]:
        return whoami() | {"result": compute(rounds)}

    _common(app)
    return app


def _common(app: FastAPI) -> None:
    @app.get("/fast")
    async def fast() -> dict[str, object]:
        return whoami()

    @app.get("/whoami")
    async def who() -> dict[str, object]:
        return whoami()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}


def build() -> FastAPI:
    return sync_app() if MODEL == "threads" else async_app()


app = build()
