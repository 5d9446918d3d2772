"""Logins and carts, kept in this replica's memory or in Redis: stateful against stateless.

POST /sessions/{store}/login {"user": ...} starts a session and sets the `sid`
cookie; POST /sessions/{store}/cart {"item": ...} adds to its cart; GET
/sessions/{store}/cart reads it. `store` is `memory` (a dict in this process:
another replica has never heard of the session, and a restart forgets it) or
`redis` (every replica reads the same session). An unknown or missing session
is a 401, as a logged-out user would get.
"""

from __future__ import annotations

import json
import os
import secrets
from collections import OrderedDict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Cookie, HTTPException, Response
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import RedisError

REDIS_URL = os.environ.get("CATALOG_REDIS_URL", "")
SESSION_TTL_S = 600
MAX_MEMORY_SESSIONS = 10_000  # oldest forgotten first: memory stays bounded
MAX_CART_ITEMS = 50

Store = Literal["memory", "redis"]
router = APIRouter(prefix="/sessions/{store}", tags=["sessions"])
memory: OrderedDict[str, dict[str, Any]] = OrderedDict()
clients: dict[str, Redis] = {}  # the one Redis client, made on first use


class StoreUnavailableError(Exception):
    """Redis did not answer: the session store, not the caller, is at fault."""


class Login(BaseModel):
    user: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class Item(BaseModel):
    item: str = Field(min_length=1, max_length=64)


SessionId = Annotated[str | None, Cookie(max_length=64)]


def redis() -> Redis:
    if "redis" not in clients:
        if not REDIS_URL:
            raise StoreUnavailableError("no Redis configured (CATALOG_REDIS_URL)")
        clients["redis"] = Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return clients["redis"]


async def close() -> None:
    for client in clients.values():
        await client.aclose()


async def load(store: Store, sid: str | None) -> dict[str, Any]:
    """The session, or 401: this replica (memory) or Redis has never heard of it."""
    session = None
    if sid and store == "memory":
        session = memory.get(sid)
    elif sid:
        try:
            raw = await redis().get(f"catalog:session:{sid}")
        except RedisError as error:
            raise StoreUnavailableError(f"Redis: {error}") from error
        session = json.loads(raw) if raw else None
    if session is None:
        raise HTTPException(401, f"no session {sid or '(no sid cookie)'} in {store}: log in")
    return session


async def save(store: Store, sid: str, session: dict[str, Any]) -> None:
    if store == "memory":
        memory[sid] = session
        memory.move_to_end(sid)
        while len(memory) > MAX_MEMORY_SESSIONS:
            memory.popitem(last=False)
        return
    try:
        await redis().set(f"catalog:session:{sid}", json.dumps(session), ex=SESSION_TTL_S)
    except RedisError as error:
        raise StoreUnavailableError(f"Redis: {error}") from error


@router.post("/login", summary="Start a session (the sid cookie)")
async def login(store: Store, body: Login, response: Response) -> dict[str, str]:
    sid = secrets.token_urlsafe(18)
    await save(store, sid, {"user": body.user, "cart": []})
    response.set_cookie("sid", sid, httponly=True, samesite="lax", max_age=SESSION_TTL_S)
    return {"user": body.user, "store": store}


@router.post("/cart", summary="Add an item to the session's cart")
async def add_item(store: Store, body: Item, sid: SessionId = None) -> dict[str, Any]:
    session = await load(store, sid)
    if len(session["cart"]) >= MAX_CART_ITEMS:
        raise HTTPException(409, f"the cart is full ({MAX_CART_ITEMS} items)")
    session["cart"].append(body.item)
    await save(store, sid or "", session)
    return {"items": session["cart"]}


@router.get("/cart", summary="The session's cart")
async def cart(store: Store, sid: SessionId = None) -> dict[str, Any]:
    session = await load(store, sid)
    return {"user": session["user"], "items": session["cart"]}
