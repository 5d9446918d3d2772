"""WebRTC signaling over the api's WebSocket: rooms of peers, messages relayed through Redis.

GET /signal/ws?room=R&peer=P (WebSocket): join room R as peer P. The server
answers {"type": "joined", "peers": [...]} and then relays offers, answers,
candidates and byes addressed to a peer of the room, whichever replica holds
that peer's connection: room membership is a Redis hash and each peer has a
Redis channel, so no replica keeps state another could not serve. A message
that is malformed or addressed to a stranger is answered with
{"type": "error"} and forwarded nowhere (services/api/signaling.py).

GET /signal/turn?peer=P: time-limited TURN credentials for P (coturn's
use-auth-secret), with the TURN server's URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, WebSocket
from fastapi.responses import FileResponse
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.websockets import WebSocketDisconnect

from api.identity import HOSTNAME
from api.settings import settings
from api.signaling import MAX_PEERS, InvalidSignalError, Ping, forwarded, parse, turn_credentials

router = APIRouter(prefix="/signal", tags=["signaling"])
# The page, apart: on api-auth signaling needs a session, the page itself does not.
pages = APIRouter(prefix="/signal", include_in_schema=False)

PEER = Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", description="a peer id")]
ROOM_TTL_S = 300  # a room whose peers all vanished (a replica killed) expires
MAX_INVALID = 10  # invalid messages before the server closes the connection
# WebSocket close codes: RFC 6455's, and 4000-4999 for the application.
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
PEER_ID_TAKEN = 4409
ROOM_FULL = 4429


def redis_of(ws: WebSocket) -> Redis:
    hub = ws.app.state.feed  # the feed's Redis: the one backplane the replicas share
    if hub is None:
        raise HTTPException(503, "signaling: no Redis configured (API_REDIS_URL)")
    return hub.redis


def room_key(room: str) -> str:
    return f"signal:room:{room}"


def channel(room: str, peer: str) -> str:
    return f"signal:{room}:{peer}"


TTL = Annotated[
    int,
    Query(
        ge=-600,
        le=600,
        description="seconds valid; below 0: already expired (to see coturn refuse it)",
    ),
]


PAGE = Path(__file__).resolve().parent.parent / "static" / "webrtc.html"


@pages.get("/")
async def page() -> FileResponse:
    """The browser page: a browser peer calls a Python peer through the sandbox's signaling."""
    return FileResponse(PAGE, media_type="text/html")


@router.get("/turn")
async def turn(peer: PEER, ttl: TTL = 600) -> dict[str, Any]:
    """Credentials valid for `ttl` seconds (ten minutes at most), and where TURN listens."""
    secret_file = Path(settings.turn_secret_file) if settings.turn_secret_file else None
    if secret_file is None or not secret_file.exists():
        raise HTTPException(503, "signaling: no TURN secret configured (API_TURN_SECRET_FILE)")
    urls = [url for url in settings.turn_urls.split(",") if url]
    return {"urls": urls, **turn_credentials(secret_file.read_bytes().strip(), peer, ttl_s=ttl)}


@router.websocket("/ws")
async def signal(ws: WebSocket, room: PEER, peer: PEER) -> None:
    redis = redis_of(ws)
    await ws.accept(headers=[(b"x-served-by", HOSTNAME.encode())])
    # Listen before joining: once the room lists this peer, another may send it an offer
    # at once, and Redis pub/sub drops a message nobody is subscribed to yet (an offer
    # was lost so on a busy machine, and both peers waited for minutes).
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(channel(room, peer))
        peers = await join(redis, room, peer)
    except (PermissionError, RedisError) as exc:
        await pubsub.aclose()
        code = {PermissionError: PEER_ID_TAKEN}.get(type(exc), TRY_AGAIN_LATER)
        await ws.close(ROOM_FULL if "full" in str(exc) else code, str(exc)[:120])
        return
    try:
        await ws.send_json({"type": "joined", "room": room, "peer": peer, "peers": peers,
                            "served_by": HOSTNAME})  # fmt: skip
        await announce(redis, room, peer, peers, "peer-joined")
        await relay(ws, redis, pubsub, room, peer)
    except WebSocketDisconnect:
        pass
    finally:
        with contextlib.suppress(RedisError):
            await redis.hdel(room_key(room), peer)
            await announce(redis, room, peer, await members(redis, room), "peer-left")


async def join(redis: Redis, room: str, peer: str) -> list[str]:
    """Add peer to the room; the other peers. PermissionError: the id is taken, or the room full."""
    present = await members(redis, room)
    if len(present) >= MAX_PEERS:
        raise PermissionError(f"room {room} is full ({MAX_PEERS} peers)")
    if not await redis.hsetnx(room_key(room), peer, HOSTNAME):
        raise PermissionError(f"peer id {peer} is taken in room {room}")
    await redis.expire(room_key(room), ROOM_TTL_S)
    return [p for p in present if p != peer]


async def members(redis: Redis, room: str) -> list[str]:
    return sorted(p.decode() for p in await redis.hkeys(room_key(room)))


async def announce(redis: Redis, room: str, peer: str, others: list[str], kind: str) -> None:
    for other in others:
        await redis.publish(channel(room, other), json.dumps({"type": kind, "peer": peer}))


async def relay(ws: WebSocket, redis: Redis, pubsub: Any, room: str, peer: str) -> None:
    """Two directions at once: this peer's channel (`pubsub`, subscribed) to its socket, its
    socket to other peers."""
    inbound = asyncio.create_task(deliver(ws, pubsub))
    try:
        await receive(ws, redis, room, peer)
    finally:
        inbound.cancel()
        with contextlib.suppress(asyncio.CancelledError, RedisError):
            await inbound
        await pubsub.aclose()


async def deliver(ws: WebSocket, pubsub: Any) -> None:
    async for message in pubsub.listen():
        if message["type"] == "message":
            await ws.send_text(message["data"].decode())


async def receive(ws: WebSocket, redis: Redis, room: str, peer: str) -> None:
    invalid = 0
    while True:
        frame = await ws.receive()
        if frame["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(frame.get("code", 1000))
        try:
            message = parse(frame.get("text"))
            if isinstance(message, Ping):
                await redis.expire(room_key(room), ROOM_TTL_S)
                await ws.send_json({"type": "pong"})
                continue
            if message.to == peer or not await redis.hexists(room_key(room), message.to):
                raise InvalidSignalError(f"to: no peer {message.to} in room {room}")
        except InvalidSignalError as exc:
            invalid += 1
            if invalid >= MAX_INVALID:
                await ws.close(POLICY_VIOLATION, f"{MAX_INVALID} invalid messages")
                return
            await ws.send_json({"type": "error", "reason": str(exc)})
            continue
        listeners = await redis.publish(
            channel(room, message.to), json.dumps(forwarded(message, peer))
        )
        if listeners == 0:  # in the room, but its connection is closing: say so, not silence
            await ws.send_json({"type": "error", "reason": f"to: peer {message.to} is leaving"})
