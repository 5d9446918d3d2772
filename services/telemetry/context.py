"""The request id: one per incoming request, carried across every hop and into every log line.

nginx keeps a well-formed incoming X-Request-ID or makes one; the api checks it
again (it is also reachable without nginx, on the layer-4 and passthrough
ports), sends it to pricing as gRPC metadata and to both brokers as a message
header, and every consumer reads it back. A value that is not a short plain
token is replaced, never trusted: it would end up in log lines and span tags.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"  # HTTP header, gRPC metadata key, AMQP and Kafka header
REQUEST_ID_TAG = "request.id"  # the span attribute (a Zipkin tag) the trace is found by
MAX_REQUEST_ID_CHARS = 64
_PLAIN_TOKEN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_REQUEST_ID_CHARS - 1}}}")

current_request_id: ContextVar[str] = ContextVar("request_id", default="")


def checked_request_id(value: str | bytes | None) -> str:
    """The caller's id when it is a plain token of at most 64 characters; a new one otherwise."""
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if value and _PLAIN_TOKEN.fullmatch(value):
        return value
    return uuid.uuid4().hex


@contextmanager
def bound_request_id(value: str | bytes | None) -> Iterator[str]:
    """Within the block, log lines and spans carry this request id (checked first)."""
    request_id = checked_request_id(value)
    token = current_request_id.set(request_id)
    try:
        yield request_id
    finally:
        current_request_id.reset(token)
