"""Streams hold a server thread each for their whole life: cap them, so unary calls never wait.

The server's pool has POOL_SIZE threads. Streaming calls (server, client or
both ways) take a slot for their life: at most MAX_STREAMS at once on a
replica, at most MAX_STREAMS_PER_CLIENT for one client (the address nginx
forwards, or the peer's), and at most MAX_STREAM_S seconds each. Past a cap
a call ends at once with RESOURCE_EXHAUSTED and says which cap and why; the
threads left over (with the feed's watchers, services/pricing/feed_service.py)
always serve unary calls.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator

import grpc

POOL_SIZE = 16
MAX_STREAMS = 8
MAX_STREAMS_PER_CLIENT = 4
MAX_STREAM_S = 60.0


def client_of(context: grpc.ServicerContext) -> str:
    """The caller: the first X-Forwarded-For address nginx set, or the connection's peer."""
    metadata = dict(context.invocation_metadata())
    forwarded = str(metadata.get("x-forwarded-for", "")).split(",")[0].strip()
    return forwarded or context.peer().rsplit(":", 1)[0]  # "ipv4:10.0.0.5:41234", less the port


class StreamSlots:
    def __init__(self, total: int = MAX_STREAMS, per_client: int = MAX_STREAMS_PER_CLIENT) -> None:
        self.total = total
        self.per_client = per_client
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _take(self, client: str) -> str | None:
        """None when a slot was taken for `client`, else why not."""
        with self._lock:
            if sum(self._held.values()) >= self.total:
                return f"this replica serves {self.total} streams already; retry later"
            if self._held[client] >= self.per_client:
                return f"you have {self.per_client} streams open on this replica already"
            self._held[client] += 1
            return None

    def _give_back(self, client: str) -> None:
        with self._lock:
            self._held[client] -= 1
            if self._held[client] <= 0:
                del self._held[client]

    @contextlib.contextmanager
    def hold(self, context: grpc.ServicerContext) -> Iterator[float]:
        """A slot for the call's life, or RESOURCE_EXHAUSTED; yields the time it must end by."""
        client = client_of(context)
        refused = self._take(client)
        if refused is not None:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refused)
        try:
            yield time.monotonic() + MAX_STREAM_S
        finally:
            self._give_back(client)


def past(deadline: float, context: grpc.ServicerContext) -> bool:
    """True, after ending the call with a reason, once a stream has lived MAX_STREAM_S."""
    if time.monotonic() < deadline:
        return False
    context.abort(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"a stream lives at most {MAX_STREAM_S:.0f} s; call again to go on",
    )
    return True
