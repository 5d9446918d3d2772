"""A replica's fan-out: one Redis subscription in, a bounded queue per connected client out.

The hub holds no state another replica could not rebuild: what a client has
seen travels with the client (its last id), and history is in Redis. So a
client can reconnect to any replica and resume with no gap and no duplicate:
`follow()` first replays history after the client's last id, then the live
news, dropping what it already sent and filling any gap from history.

Backpressure: each client's queue holds QUEUE_SIZE events. A client that
falls that far behind is cut off (SlowConsumerError), not buffered without
bound; it resumes from history when it reconnects, so it loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from feed.model import FeedEvent
from feed.store import CHANNEL, FeedStore

log = logging.getLogger("feed")

QUEUE_SIZE = 256  # events buffered per client before it counts as too slow
MAX_SUBSCRIBERS = 200  # streaming clients (SSE, WebSocket) per replica
PAGE = 200  # history read per round trip when replaying


class SlowConsumerError(RuntimeError):
    """The client's queue filled up: it must reconnect and resume from its last id."""


class TooManySubscribersError(RuntimeError):
    """This replica already serves MAX_SUBSCRIBERS streaming clients."""


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue[FeedEvent] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE)
    )
    overflowed: bool = False

    def offer(self, event: FeedEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    async def next(self) -> FeedEvent:
        if self.overflowed:
            raise SlowConsumerError(f"more than {QUEUE_SIZE} events behind")
        return await self.queue.get()


class Hub:
    """Started lazily by the first client; one per replica process."""

    def __init__(self, redis: Redis, *, max_subscribers: int = MAX_SUBSCRIBERS) -> None:
        self.redis = redis
        self.store = FeedStore(redis)
        self.max_subscribers = max_subscribers
        self.subscriptions: set[Subscription] = set()
        self.last_seen = 0  # the newest id this replica has fanned out
        self._news = asyncio.Event()  # set, then replaced, on every event
        self._listener: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="feed-hub")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        if len(self.subscriptions) >= self.max_subscribers:
            raise TooManySubscribersError(
                f"this replica serves {self.max_subscribers} streams already"
            )
        self.start()
        subscription = Subscription()
        self.subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self.subscriptions.discard(subscription)

    async def follow(self, subscription: Subscription, after: int) -> AsyncIterator[FeedEvent]:
        """Every event after `after`, in order, exactly once: history, then news."""
        last = after
        async for event in self.replay(last):
            yield event
            last = event.id
        while True:
            event = await subscription.next()
            if event.id <= last:
                continue  # already sent from history
            if event.id > last + 1:  # news this replica missed: take it from history
                async for missed in self.replay(last, until=event.id - 1):
                    yield missed
                    last = missed.id
            yield event
            last = event.id

    async def replay(self, after: int, until: int | None = None) -> AsyncIterator[FeedEvent]:
        """History after `after` (up to `until`), page by page."""
        while True:
            page = await self.store.after(after, PAGE)
            for event in page:
                if until is not None and event.id > until:
                    return
                yield event
                after = event.id
            if len(page) < PAGE:
                return

    async def wait_for_news(self, after: int, timeout_s: float) -> None:
        """Return once this replica has seen an event newer than `after`, or after timeout_s."""
        self.start()
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.last_seen <= after:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), remaining)

    def dispatch(self, event: FeedEvent) -> None:
        self.last_seen = max(self.last_seen, event.id)
        for subscription in self.subscriptions:
            subscription.offer(event)
        self._news.set()
        self._news = asyncio.Event()

    async def _listen(self) -> None:
        """Follow the news channel for the replica's life, reconnecting with backoff."""
        backoff = 0.1
        while True:
            try:
                await self._follow_channel()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("feed news lost (%s); reconnecting in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _follow_channel(self) -> None:
        async with self.redis.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            # Subscribed first, then caught up: nothing falls between the two.
            if self.last_seen == 0:
                self.last_seen = await self.store.latest()
            async for event in self.replay(self.last_seen):
                self.dispatch(event)
            async for message in pubsub.listen():
                if message["type"] == "message":
                    self.dispatch(FeedEvent.from_json(message["data"]))
