"""Limits the api enforces itself, whatever port a request came through.

nginx limits bodies on its HTTP listeners, but its layer-4 port (8081) and
the TLS passthrough (8444) hand over raw bytes: the api must protect itself.

- MAX_BODY_BYTES: a body over it gets 413, whether it announces its length
  or streams chunks (FastAPI's max_body_size: it stops reading at the
  limit, so memory stays bounded).
- HeaderLimit: headers over MAX_HEADER_BYTES in all get 431.
- validation_error: a 422 whose details are always valid JSON. FastAPI's own
  handler echoes the rejected input, and an input of NaN or Infinity (which
  Python's json accepts) cannot be encoded back: that was a 500.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024  # the same 1 MiB nginx allows on its HTTP ports
MAX_HEADER_BYTES = 16 * 1024
MAX_ECHOED_INPUT = 200  # characters of a rejected input shown back to the client

# What any operation may answer before its own code runs; documented on each
# one so the OpenAPI document tells clients (and fuzzers) the whole truth.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not JSON (or not UTF-8, or nested too deeply)"},
    413: {"description": f"The body is over {MAX_BODY_BYTES} bytes"},
    425: {
        "description": "An unsafe method sent in TLS early data (0-RTT): retry after the handshake"
    },
    431: {"description": f"The headers are over {MAX_HEADER_BYTES} bytes in all"},
}


async def reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class HeaderLimit:
    """431 for requests whose headers add up to more than MAX_HEADER_BYTES."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > MAX_HEADER_BYTES:
                await reply(send, 431, f"request headers over {MAX_HEADER_BYTES} bytes")
                return
        await self.app(scope, receive, send)


def json_safe(value: Any) -> Any:
    """The value if it encodes as strict JSON, else a short repr of it."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)[:MAX_ECHOED_INPUT]
    text = json.dumps(value)
    return value if len(text) <= MAX_ECHOED_INPUT else text[:MAX_ECHOED_INPUT] + "..."


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [
        {
            "type": error.get("type"),
            "loc": [json_safe(part) for part in error.get("loc", ())],
            "msg": json_safe(error.get("msg")),
            "input": json_safe(error.get("input")),
        }
        for error in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)
