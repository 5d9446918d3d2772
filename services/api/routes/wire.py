"""/wire: what reading one request costs, and paced bytes to watch loss with (lesson on-the-wire).

POST /wire/read:
the body is a basket of items, as JSON or as protobuf (sandbox.wire.v1.Basket,
services/protos), chosen by Content-Type. The replica times each stage it runs
and says so in the answer and in a Server-Timing header:
- read: the body arriving through the ASGI server (wall time: it awaits nginx);
- decode: bytes to objects, and nothing else (json.loads against upb's parser);
- validate: the same rules on either format's objects (sku pattern, ranges);
- handle: the basket's total;
- encode: the answer's JSON.
decode, validate, handle and encode run without awaiting, so the thread's own CPU
clock (time.thread_time_ns) measures them, whatever else the machine is doing.

GET /wire/bytes: `size` bytes written `chunk` at a time every `every_ms`, so that
several such streams on one connection stay interleaved on the wire for a while:
the loss part of the lesson watches which of them are held back when a packet is
lost. Each write starts with the time it was written, the kernel's CLOCK_MONOTONIC
in nanoseconds (8 bytes, big-endian): containers share that clock with their host
kernel, so a client in another container reads each write's one-way delay.
`X-Accel-Buffering: no` has nginx pass each write on as it comes.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from google.protobuf.message import DecodeError
from sandbox.wire.v1 import basket_pb2

from api.identity import HOSTNAME

router = APIRouter(prefix="/wire", tags=["on the wire"])

JSON, PROTOBUF = "application/json", "application/x-protobuf"
MAX_ITEMS = 20_000
MAX_QUANTITY = 1000
MAX_PRICE_CENTS = 1_000_000_000
MAX_NOTE = 1000
SKU = re.compile(r"[A-Z0-9][A-Z0-9-]{2,31}")
T = TypeVar("T")

ITEM_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["sku", "quantity", "price_cents"],
    "properties": {
        "sku": {"type": "string", "pattern": f"^{SKU.pattern}$"},
        "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
        "price_cents": {"type": "integer", "minimum": 0, "maximum": MAX_PRICE_CENTS},
        "note": {"type": "string", "maxLength": MAX_NOTE},
    },
}
BASKET_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["items"],
    "properties": {"items": {"type": "array", "maxItems": MAX_ITEMS, "items": ITEM_SCHEMA}},
}
FIELDS = frozenset(("sku", "quantity", "price_cents", "note"))
REQUEST_BODY = {
    "required": True,
    "content": {
        JSON: {"schema": BASKET_SCHEMA},
        PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
    },
}


class RefusedBodyError(Exception):
    """A body this route will not read: its status and the reason the client gets."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def timed(stages: dict[str, int], name: str, work: Callable[[], T]) -> T:
    """work(), its thread CPU time in microseconds recorded under `name`."""
    started = time.thread_time_ns()
    try:
        return work()
    finally:
        stages[name] = (time.thread_time_ns() - started) // 1000


def decode_json(body: bytes) -> list[dict[str, Any]]:
    try:
        basket = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RefusedBodyError(400, f"the body is not JSON: {error}") from None
    except RecursionError:  # "[[[[…" a million deep: Python's parser recurses per level
        raise RefusedBodyError(
            400, "the body is not JSON the api reads: nested too deeply"
        ) from None
    if not isinstance(basket, dict) or set(basket) != {"items"}:
        raise RefusedBodyError(422, 'the body must be an object with one field, "items"')
    items = basket["items"]
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise RefusedBodyError(422, '"items" must be a list of objects')
    return items


def decode_protobuf(body: bytes) -> Iterable[Any]:
    try:
        return basket_pb2.Basket.FromString(body).items
    except DecodeError as error:
        raise RefusedBodyError(400, f"the body is not a sandbox.wire.v1.Basket: {error}") from None


def check(index: int, sku: object, quantity: object, price: object, note: object) -> None:
    problem = (
        "sku" if not (isinstance(sku, str) and SKU.fullmatch(sku))
        else "quantity" if not (type(quantity) is int and 1 <= quantity <= MAX_QUANTITY)
        else "price_cents" if not (type(price) is int and 0 <= price <= MAX_PRICE_CENTS)
        else "note" if not (isinstance(note, str) and len(note) <= MAX_NOTE)
        else None
    )  # fmt: skip
    if problem:
        raise RefusedBodyError(422, f"item {index}: {problem} is missing or out of range")


def validate_json(items: list[dict[str, Any]]) -> list[tuple[int, int]]:
    if len(items) > MAX_ITEMS:
        raise RefusedBodyError(422, f"more than {MAX_ITEMS} items")
    for index, item in enumerate(items):
        if unknown := set(item) - FIELDS:
            raise RefusedBodyError(422, f"item {index}: unknown fields {sorted(unknown)[:5]}")
        check(index, item.get("sku"), item.get("quantity"), item.get("price_cents"),
              item.get("note", ""))  # fmt: skip
    return [(item["quantity"], item["price_cents"]) for item in items]


def validate_protobuf(items: Iterable[Any]) -> list[tuple[int, int]]:
    lines = []
    for index, item in enumerate(items):
        if index >= MAX_ITEMS:
            raise RefusedBodyError(422, f"more than {MAX_ITEMS} items")
        check(index, item.sku, item.quantity, item.price_cents, item.note)
        lines.append((item.quantity, item.price_cents))
    return lines


def read_basket(kind: str, body: bytes, stages: dict[str, int]) -> list[tuple[int, int]]:
    if kind == JSON:
        items = timed(stages, "decode", lambda: decode_json(body))
        return timed(stages, "validate", lambda: validate_json(items))
    found = timed(stages, "decode", lambda: decode_protobuf(body))
    return timed(stages, "validate", lambda: validate_protobuf(found))


def media_type(request: Request) -> str:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in (JSON, PROTOBUF):
        wanted = f"Content-Type must be {JSON} or {PROTOBUF}"
        raise RefusedBodyError(415, f"{wanted}, not {kind or 'none'}")
    return kind


@router.post(
    "/read",
    summary="Read a basket sent as JSON or protobuf, and say what each stage cost",
    openapi_extra={"requestBody": REQUEST_BODY},
    responses={
        415: {"description": "The Content-Type is neither JSON nor protobuf"},
        422: {"description": "The basket breaks a rule (the reason names the item)"},
    },
)
async def read(request: Request) -> Response:
    stages: dict[str, int] = {}
    try:
        kind = media_type(request)
        arrived = time.perf_counter()
        body = await request.body()
        read_us = int((time.perf_counter() - arrived) * 1e6)
        lines = read_basket(kind, body, stages)
    except RefusedBodyError as refused:
        return JSONResponse({"detail": refused.detail}, status_code=refused.status)
    total = timed(stages, "handle", lambda: sum(q * p for q, p in lines))
    answer = {"format": "json" if kind == JSON else "protobuf", "body_bytes": len(body),
              "items": len(lines), "total_cents": total, "served_by": HOSTNAME,
              "read_wall_us": read_us, "cpu_us": stages}  # fmt: skip
    encoded = timed(stages, "encode", lambda: json.dumps(answer).encode())
    timing = ", ".join(
        [f"read;dur={read_us / 1000:.3f}", *(f"{k};dur={v / 1000:.3f}" for k, v in stages.items())]
    )
    return Response(encoded, media_type=JSON, headers={"server-timing": timing})


MAX_BYTES = 4 * 1024 * 1024
MAX_CHUNK = 64 * 1024
MAX_EVERY_MS = 1000
MAX_PACED_S = 30.0  # how long one paced answer may take at most
FILLER = b"on the wire " * (MAX_CHUNK // 12 + 1)


STAMP_BYTES = 8


async def paced(size: int, chunk: int, every_s: float) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        piece = min(chunk, size - sent)
        yield (time.monotonic_ns().to_bytes(STAMP_BYTES, "big") + FILLER)[:piece]
        sent += piece
        if sent < size:
            await asyncio.sleep(every_s)


@router.get(
    "/bytes",
    summary="`size` bytes, `chunk` at a time every `every_ms` ms (at most 30 s in all)",
    responses={422: {"description": "Out of range, or the answer would take over 30 s"}},
)
async def paced_bytes(
    size: Annotated[int, Query(ge=1, le=MAX_BYTES, description="Bytes in the body.")],
    chunk: Annotated[int, Query(ge=1, le=MAX_CHUNK, description="Bytes per write.")] = MAX_CHUNK,
    every_ms: Annotated[int, Query(ge=0, le=MAX_EVERY_MS, description="Pause between writes.")] = 0,
) -> Response:
    writes = -(-size // chunk)
    if (writes - 1) * every_ms / 1000 > MAX_PACED_S:
        detail = f"{writes} writes every {every_ms} ms take over {MAX_PACED_S:.0f} s"
        return JSONResponse({"detail": detail}, status_code=422)
    return StreamingResponse(
        paced(size, chunk, every_ms / 1000),
        media_type="application/octet-stream",
        headers={"content-length": str(size), "x-accel-buffering": "no"},
    )
