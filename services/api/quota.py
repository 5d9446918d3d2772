"""Requests per identity (lesson auth): at most LIMIT in any WINDOW_S, counted in Redis.

Once a token has said who calls (api/bearer.py), each request of that subject is
logged in a Redis sorted set shared by every replica (a sliding log: the window
slides with each request, so no burst fits between two fixed windows). Over the
limit, the answer is 429 with Retry-After (RFC 6585, section 4): the seconds until
the oldest request in the window leaves it. Refused requests are logged too, so
a client that keeps hammering stays refused until it waits.

Redis away or slower than REDIS_WAIT_S, requests pass (and a warning is logged): a
limiter that failed closed would turn a Redis outage into an outage of every guarded
route.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

LIMIT = 200  # 20 a second on average: `make bench auth` paces 20 a second, under it
WINDOW_S = 10.0
# How long a request waits for Redis before it passes uncounted: redis-py's own connect
# retries took 5 s per request when Redis was not running (every answer then came after
# nginx's 2.5 s read timeout had given the client a 504).
REDIS_WAIT_S = 0.25
log = logging.getLogger(__name__)


class RateLimitedError(Exception):
    """429: this identity sent LIMIT requests in the last WINDOW_S."""

    def __init__(self, subject: str, retry_after_s: int) -> None:
        super().__init__(
            f"{subject} sent more than {LIMIT} requests in {WINDOW_S:.0f} s: "
            f"retry after {retry_after_s} s"
        )
        self.retry_after_s = retry_after_s


def retry_after(count: int, oldest: float, now: float) -> int | None:
    """None while `count` requests in the window are within the limit; else the whole
    seconds (at least 1) until the oldest of them leaves the window."""
    if count <= LIMIT:
        return None
    return max(1, math.ceil(oldest + WINDOW_S - now))


async def charge(redis: Redis, subject: str, now: float | None = None) -> None:
    """Log one request of `subject`; RateLimitedError when over the limit."""
    now = time.time() if now is None else now
    key = f"quota:{subject}"
    try:
        async with asyncio.timeout(REDIS_WAIT_S), redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, 0, now - WINDOW_S)
            pipe.zadd(key, {f"{now}:{uuid.uuid4().hex[:8]}": now})
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
            pipe.expire(key, math.ceil(WINDOW_S))
            _, _, count, oldest, _ = await pipe.execute()
    except (RedisError, OSError, TimeoutError) as error:
        log.warning("quota: Redis did not answer (%s); %s's request passes", error, subject)
        return
    wait = retry_after(count, oldest[0][1] if oldest else now, now)
    if wait is not None:
        raise RateLimitedError(subject, wait)
