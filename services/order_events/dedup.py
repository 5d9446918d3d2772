"""The event ids a consumer process has already handled: a bounded idempotency store.

Delivery is at least once everywhere in this sandbox: the outbox relay sends
an event again when it was killed before recording a broker's confirmation,
a publisher sends again after a lost confirm, a broker redelivers what was
not acked. A consumer that sees an event_id it already handled counts a
duplicate and does not do the work twice.

This store lives in the consumer's memory and forgets the oldest ids past
`capacity`, so it protects against the duplicates that come close together
(which is what a relay or publisher retry makes) and not across a restart of
the consumer. A real service keeps the ids it handled in its own database,
with a unique key, written in the same transaction as the work.
"""

from __future__ import annotations

from collections import OrderedDict

DEFAULT_CAPACITY = 50_000  # ~5 MB of ids; hours of this sandbox's traffic


class SeenEvents:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        self.duplicates = 0
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        """True the first time `event_id` comes (do the work); False for a duplicate, counted."""
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            self.duplicates += 1
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._ids)
