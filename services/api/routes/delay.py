"""/delay: make one chosen replica slow, to show what least-connections balancing does."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.identity import HOSTNAME

router = APIRouter(tags=["load balancing"])

MAX_DELAY_MS = 5000


class Delayed(BaseModel):
    hostname: str
    slept_ms: int


@router.get("/delay", summary="Sleep, on every replica or only on the one named by `only`")
async def delay(
    ms: Annotated[int, Query(ge=0, le=MAX_DELAY_MS, description="How long to sleep.")] = 0,
    only: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$",
            description="A replica's hostname (X-Served-By): only that replica sleeps.",
        ),
    ] = None,
) -> Delayed:
    slept_ms = ms if only in (None, HOSTNAME) else 0
    # asyncio.sleep: the replica keeps serving other requests while this one
    # waits, like a handler awaiting a slow database.
    await asyncio.sleep(slept_ms / 1000)
    return Delayed(hostname=HOSTNAME, slept_ms=slept_ms)
