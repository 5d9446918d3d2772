"""The feed in Redis: a counter for ids, a capped stream for history, a channel for news.

Appending is one Lua script, so it is atomic: INCR the counter, XADD the
event under stream id "<id>-1", PUBLISH it on the channel. Redis runs
scripts one at a time, so every subscriber sees events in id order, and
history and news never disagree.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from feed.model import FeedEvent, NewEvent, body_after_id

STREAM = "sandbox:feed:events"
COUNTER = "sandbox:feed:last-id"
CHANNEL = "sandbox:feed:news"
HISTORY = 1000  # events kept for clients that resume; older ones are trimmed

APPEND = """
local id = redis.call('INCR', KEYS[2])
local data = '{"id":' .. id .. ',' .. ARGV[2]
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], id .. '-1', 'data', data)
redis.call('PUBLISH', KEYS[3], data)
return id
"""


class FeedStore:
    """Append and read the feed; one per process, sharing one connection pool."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._append = redis.register_script(APPEND)

    async def append(self, event: NewEvent) -> FeedEvent:
        published_at = time.time()
        keys = [STREAM, COUNTER, CHANNEL]
        new_id = await self._append(keys=keys, args=[HISTORY, body_after_id(event, published_at)])
        return FeedEvent(id=int(new_id), published_at=round(published_at, 6), **event.model_dump())

    async def latest(self) -> int:
        """The newest id in the feed (0 before the first event)."""
        return int(await self.redis.get(COUNTER) or 0)

    async def after(self, after: int, limit: int) -> list[FeedEvent]:
        """Up to `limit` events with an id above `after`, oldest first."""
        entries = await self.redis.xrange(STREAM, min=f"{after + 1}-0", max="+", count=limit)
        return [FeedEvent.from_json(fields[b"data"]) for _, fields in entries]
