"""sandbox.feed.v1.FeedService: the order-status feed as a gRPC server stream.

The server is synchronous (a thread per call), so a watcher reads the Redis
stream with a blocking XREAD of at most a second at a time, checking between
reads whether the client is still there. Watchers hold a thread each: a
semaphore caps them below the pool's size, so unary calls always find one.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import grpc
import redis
from feed.model import FeedEvent
from feed.store import COUNTER, STREAM
from sandbox.feed.v1 import feed_pb2, feed_pb2_grpc

MAX_WATCHERS = 4
BLOCK_MS = 1000
PAGE = 200


class FeedService(feed_pb2_grpc.FeedServiceServicer):
    def __init__(self, redis_url: str) -> None:
        self._redis = redis.Redis.from_url(redis_url) if redis_url else None
        self._watchers = threading.BoundedSemaphore(MAX_WATCHERS)
        self._hostname = socket.gethostname()

    def Watch(  # noqa: N802 - the name is fixed by the .proto
        self, request: feed_pb2.WatchRequest, context: grpc.ServicerContext
    ) -> Iterator[feed_pb2.FeedEvent]:
        context.send_initial_metadata([("x-served-by", self._hostname)])
        if self._redis is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "feed: no Redis configured")
        if not self._watchers.acquire(blocking=False):
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"this replica serves {MAX_WATCHERS} feed watchers already; retry",
            )
        try:
            yield from self._follow(request.after, context)
        except redis.RedisError as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"feed: Redis unavailable ({exc})")
        finally:
            self._watchers.release()

    def _follow(self, after: int, context: grpc.ServicerContext) -> Iterator[feed_pb2.FeedEvent]:
        assert self._redis is not None
        latest = int(self._redis.get(COUNTER) or 0)
        if after > latest:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"after={after} is ahead of the feed, whose newest id is {latest}",
            )
        last = after
        while context.is_active():
            # Ids are "<n>-1": XREAD returns the entries after the one given.
            answer = self._redis.xread({STREAM: f"{last}-1"}, count=PAGE, block=BLOCK_MS)
            for _, entries in answer or ():
                for _, fields in entries:
                    event = FeedEvent.from_json(fields[b"data"])
                    yield feed_pb2.FeedEvent(served_by=self._hostname, **event.model_dump())
                    last = event.id
