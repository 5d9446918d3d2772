"""The order-status feed, five ways: short polling, long polling, SSE, WebSocket (gRPC: pricing).

Every replica serves every client: the feed lives in Redis (services/feed/),
and what a client has seen travels with the client as its last id
(`after`, `Last-Event-ID`, the WebSocket's subscribe message).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, WebSocket
from fastapi.responses import FileResponse, JSONResponse
from feed.hub import Hub, SlowConsumerError, TooManySubscribersError
from feed.model import FeedEvent, NewEvent
from redis.exceptions import RedisError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.websockets import WebSocketDisconnect

from api.identity import HOSTNAME

FEED_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A position ahead of the feed, or a malformed Last-Event-ID"},
    503: {"description": "Redis is not configured or does not answer"},
}
router = APIRouter(prefix="/feed", tags=["feed"], responses=FEED_ERRORS)
# The page, apart: on api-auth the feed needs a session, the page that signs in does not.
pages = APIRouter(prefix="/feed", include_in_schema=False)

PAGE = Path(__file__).resolve().parent.parent / "static" / "feed.html"
MAX_LIMIT = 500
MAX_HOLD_S = 30  # long polling; nginx's read timeout for it is longer (proxy/polling_and_push.py)
SSE_RETRY_MS = 1000  # how long EventSource waits before reconnecting
SSE_HEARTBEAT_S = 15  # a comment line, so idle proxies and clients know the stream lives
WS_SUBSCRIBE_WITHIN_S = 10
WS_MAX_INVALID = 5  # invalid messages before the server closes with 1008
# WebSocket close codes (RFC 6455, section 7.4.1).
UNSUPPORTED_DATA = 1003
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013

After = Annotated[
    int, Query(ge=0, le=2**53, description="The last id the client has; 0 for everything kept.")
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many events.")]


def hub_of(request: Request | WebSocket) -> Hub:
    hub: Hub | None = request.app.state.feed
    if hub is None:
        raise HTTPException(503, "feed: no Redis configured (API_REDIS_URL)")
    return hub


@contextlib.asynccontextmanager
async def redis_errors_as_503() -> AsyncIterator[None]:
    try:
        yield
    except RedisError as exc:
        raise HTTPException(503, f"feed: Redis unavailable ({type(exc).__name__})") from exc


async def checked_latest(hub: Hub, after: int) -> int:
    """The feed's newest id; a client ahead of it gets a 400 that says where to start."""
    latest = await hub.store.latest()
    if after > latest:
        raise HTTPException(
            400,
            f"after={after} is ahead of the feed, whose newest id is {latest} "
            f"(the feed restarted?): start again from {latest}",
        )
    return latest


def page_of(events: list[FeedEvent], latest: int, etag: str) -> JSONResponse:
    body = {"events": [e.model_dump() for e in events], "latest": latest}
    return JSONResponse(body, headers={"ETag": etag, "Cache-Control": "no-cache"})


@pages.get("/")
async def page() -> FileResponse:
    """The browser page: the same feed by four methods side by side."""
    return FileResponse(PAGE, media_type="text/html")


@router.post("/events", status_code=201, summary="Cause an event: an order changed status")
async def publish(new: NewEvent, request: Request) -> FeedEvent:
    async with redis_errors_as_503():
        return await hub_of(request).store.append(new)


@router.get(
    "/events",
    summary="Short polling: events after an id, now",
    responses={304: {"description": "Nothing newer than the ETag the client sent"}},
)
async def poll(
    request: Request,
    after: After = 0,
    limit: Limit = 100,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    hub = hub_of(request)
    async with redis_errors_as_503():
        latest = await checked_latest(hub, after)
        etag = f'"{latest}"'  # this URL's answer changes only when the feed does
        if if_none_match == etag and after >= latest:  # nothing newer than the client has
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
        return page_of(await hub.store.after(after, limit), latest, etag)


@router.get("/events/wait", summary="Long polling: held until an event after the id exists")
async def wait(
    request: Request,
    after: After = 0,
    limit: Limit = 100,
    timeout_s: Annotated[float, Query(ge=1, le=MAX_HOLD_S)] = 25,
) -> Response:
    hub = hub_of(request)
    async with redis_errors_as_503():
        latest = await checked_latest(hub, after)
        events = await hub.store.after(after, limit)
        if not events:
            await hub.wait_for_news(after, timeout_s)
            events = await hub.store.after(after, limit)
        latest = max(latest, events[-1].id if events else 0)
        return page_of(events, latest, f'"{latest}"')


def resume_point(after: int | None, last_event_id: str | None) -> int | None:
    """Where an SSE stream starts: Last-Event-ID (a reconnect) wins over ?after=."""
    if last_event_id is None:
        return after
    if not last_event_id.strip().isdigit() or len(last_event_id.strip()) > 16:
        raise HTTPException(400, f"Last-Event-ID must be a whole number, got {last_event_id!r}")
    return int(last_event_id)


@router.get("/stream", summary="Server-sent events: the feed as text/event-stream")
async def stream(
    request: Request,
    after: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    hub = hub_of(request)
    start = resume_point(after, last_event_id)
    async with redis_errors_as_503():
        latest = await checked_latest(hub, start or 0)
    start = latest if start is None else start  # no position: only what comes next
    if len(hub.subscriptions) >= hub.max_subscribers:
        raise HTTPException(
            503, "this replica serves its maximum of streams; retry", {"Retry-After": "1"}
        )
    return EventSourceResponse(
        sse_events(hub, start), ping=SSE_HEARTBEAT_S, headers={"X-Accel-Buffering": "no"}
    )


async def sse_events(hub: Hub, after: int) -> AsyncIterator[ServerSentEvent]:
    yield ServerSentEvent(comment=f"following the feed after id {after}", retry=SSE_RETRY_MS)
    last = after
    try:
        with hub.subscribe() as subscription:
            async for event in hub.follow(subscription, after):
                yield ServerSentEvent(data=event.to_json(), event="order-status", id=str(event.id))
                last = event.id
    except (SlowConsumerError, TooManySubscribersError, RedisError) as exc:
        # The client reconnects (EventSource does by itself) and resumes from `last`.
        reason = {"reason": str(exc), "resume_after": last}
        yield ServerSentEvent(data=json.dumps(reason), event="overflow")


@router.websocket("/ws")
async def websocket(ws: WebSocket) -> None:
    """JSON messages: subscribe {"type": "subscribe", "after": N}, ping {"type": "ping"}."""
    hub = hub_of(ws)
    await ws.accept(headers=[(b"x-served-by", HOSTNAME.encode())])
    try:
        after = await ws_subscription(ws, hub)
        if after is not None:
            await ws_follow(ws, hub, after)
    except WebSocketDisconnect:
        return
    except TimeoutError:
        await ws.close(POLICY_VIOLATION, f"no subscribe message within {WS_SUBSCRIBE_WITHIN_S} s")
    except TooManySubscribersError as exc:
        await ws.close(TRY_AGAIN_LATER, str(exc)[:120])
    except RedisError as exc:
        await ws.close(TRY_AGAIN_LATER, f"feed: Redis unavailable ({type(exc).__name__})")


class InvalidMessageError(ValueError):
    """A message the server cannot act on; the reason goes back to the client."""


def parse_message(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("bytes") is not None:
        raise TypeError("binary frames are not supported: send JSON text")
    try:
        parsed = json.loads(message.get("text") or "")
    except json.JSONDecodeError as exc:
        raise InvalidMessageError(f"not JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(parsed, dict) or parsed.get("type") not in ("subscribe", "ping"):
        raise InvalidMessageError('expected {"type": "subscribe", "after": N} or {"type": "ping"}')
    return parsed


async def ws_receive(ws: WebSocket, invalid: list[str]) -> dict[str, Any] | None:
    """The next valid message; answers invalid ones with an error; None once closed by us."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        try:
            return parse_message(message)
        except TypeError as exc:
            await ws.close(UNSUPPORTED_DATA, str(exc))
            return None
        except InvalidMessageError as exc:
            invalid.append(str(exc))
            if len(invalid) >= WS_MAX_INVALID:
                await ws.close(POLICY_VIOLATION, f"{WS_MAX_INVALID} invalid messages")
                return None
            await ws.send_json({"type": "error", "reason": str(exc)})


async def ws_subscription(ws: WebSocket, hub: Hub) -> int | None:
    """Wait for a valid subscribe message; its `after`, or None when the socket was closed."""
    invalid: list[str] = []
    async with asyncio.timeout(WS_SUBSCRIBE_WITHIN_S):
        while (message := await ws_receive(ws, invalid)) is not None:
            if message["type"] == "ping":
                await ws.send_json({"type": "pong"})
                continue
            after = message.get("after", None)
            latest = await hub.store.latest()
            if after is None:
                after = latest
            if isinstance(after, int) and not isinstance(after, bool) and 0 <= after <= latest:
                subscribed = {"type": "subscribed", "after": after, "latest": latest}
                await ws.send_json({**subscribed, "served_by": HOSTNAME})
                return after
            await ws.send_json(
                {"type": "error", "reason": f"after must be a whole number from 0 to {latest}"}
            )
    return None


async def ws_follow(ws: WebSocket, hub: Hub, after: int) -> None:
    """Send the feed while answering the client's pings, until either side stops."""
    last = after

    async def send() -> None:
        nonlocal last
        with hub.subscribe() as subscription:
            async for event in hub.follow(subscription, after):
                await ws.send_json({"type": "event", "event": event.model_dump()})
                last = event.id

    async def receive() -> None:
        invalid: list[str] = []
        while (message := await ws_receive(ws, invalid)) is not None:
            reply = {"type": "pong"} if message["type"] == "ping" else {
                "type": "error", "reason": "already subscribed"}  # fmt: skip
            await ws.send_json(reply)

    tasks = [asyncio.create_task(send()), asyncio.create_task(receive())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a disconnect or an error surfaces here
    except SlowConsumerError:
        await ws.close(POLICY_VIOLATION, f"slow consumer: resubscribe with after={last}")
    finally:
        for task in tasks:
            task.cancel()
