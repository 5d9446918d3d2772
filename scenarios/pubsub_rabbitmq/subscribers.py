"""The subscribers: a notifier and an auditor on the fanout, three workers on the work queue.

Each group is one queue and its consumers, sharing one idempotency store and
one log of what was processed when, from which the per-key order is checked.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from comms_sandbox import rabbitmq
from order_events import rabbit
from order_events.model import OrderPlaced

WORKERS = 3
WORK_S = (0.0, 0.003)  # simulated processing time per event, uniform


@dataclass(frozen=True)
class Processed:
    event_id: str
    customer: str
    sequence: int
    consumer: str


class ProcessingLog:
    """What a group processed, in the order processing finished, across its consumers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[Processed] = []

    def record(self, event: OrderPlaced, consumer: str) -> None:
        with self._lock:
            self.entries.append(
                Processed(str(event.event_id), event.customer_id, event.sequence, consumer)
            )

    def order_violations(self, event_ids: set[str]) -> int:
        """Of `event_ids`: finished after a later event of the same customer had finished."""
        highest: dict[str, int] = {}
        violations = 0
        for entry in (e for e in self.entries if e.event_id in event_ids):
            if entry.sequence < highest.get(entry.customer, 0):
                violations += 1
            else:
                highest[entry.customer] = entry.sequence
        return violations


@dataclass
class Group:
    """One queue, its consumers, their shared idempotency store and processing log."""

    role: str
    queue: str
    consumers: list[rabbitmq.Consumer] = field(default_factory=list)
    store: rabbitmq.Idempotency = field(default_factory=rabbitmq.Idempotency)
    log: ProcessingLog = field(default_factory=ProcessingLog)

    def dead_lettered(self) -> int:
        return sum(c.stats.dead_lettered for c in self.consumers)

    def stop(self) -> None:
        for consumer in self.consumers:
            consumer.stop()

    def report(self, expected: Iterable[str]) -> dict[str, Any]:
        """Counts against the event ids the group should have processed, once each."""
        expected_ids = set(expected)
        ours = [e for e in self.log.entries if e.event_id in expected_ids]
        per_event = Counter(e.event_id for e in ours)
        return {
            "queue": self.queue,
            "consumers": len(self.consumers),
            "processed_per_consumer": dict(Counter(e.consumer for e in ours)),
            # Events this run did not publish (the api's POST /orders, say): not counted above.
            "other_events": len(self.log.entries) - len(ours),
            "received_unique": len(per_event),
            "lost": len(expected_ids - set(per_event)),
            "processed_more_than_once": sum(1 for n in per_event.values() if n > 1),
            # From the broker's side: deliveries and redelivered flags per message.
            "broker_delivered_more_than_once": more_than_once_by_broker(
                self.consumers, expected_ids
            ),
            "duplicates_skipped": self.store.duplicates,
            "redelivered": sum(c.stats.redelivered for c in self.consumers),
            "dead_lettered": self.dead_lettered(),
            "reconnects": sum(c.stats.reconnects for c in self.consumers),
            "per_key_order_violations": self.log.order_violations(expected_ids),
        }


def more_than_once_by_broker(consumers: Iterable[rabbitmq.Consumer], expected: set[str]) -> int:
    """Expected messages the broker delivered to this group more than once (counted per
    delivery as the broker pushed them), whatever the handlers' deduplication then did.

    The redelivered flag alone is not counted: a message another consumer once held
    (the prefetch demo's) comes to the group flagged, yet only once."""
    deliveries: Counter[str] = Counter()
    for consumer in consumers:
        deliveries.update(consumer.stats.deliveries_by_id)
    return sum(1 for key in expected if deliveries[key] > 1)


def _handler(group: Group, consumer: str) -> rabbit.Handler:
    def handle(event: OrderPlaced) -> None:
        time.sleep(random.uniform(*WORK_S))  # the work; lets the workers' threads interleave
        group.log.record(event, consumer)

    return handle


def start(url: str, prefetch: int = rabbit.PREFETCH) -> dict[str, Group]:
    """Start every consumer, each on its own connection and thread."""
    groups = {
        "notifier": Group("notifier", rabbit.NOTIFIER_QUEUE),
        "auditor": Group("auditor", rabbit.AUDITOR_QUEUE),
        "work": Group("work", rabbit.WORK_QUEUE),
    }
    for role, group in groups.items():
        names = [role] if role != "work" else [f"worker-{n}" for n in range(1, WORKERS + 1)]
        for name in names:
            consumer = rabbitmq.Consumer(
                url, group.queue, name,
                handler=_handler(group, name), store=group.store, prefetch=prefetch,
            )  # fmt: skip
            group.consumers.append(consumer.start())
    return groups


def wait_until_done(
    groups: dict[str, Group], expected: int, dead_letters: int, timeout_s: float
) -> float:
    """Seconds until every group processed `expected` events and dead-lettered `dead_letters`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if all(
            g.store.processed >= expected and g.dead_lettered() >= dead_letters
            for g in groups.values()
        ):
            break
        time.sleep(0.05)
    return round(time.monotonic() - started, 3)


def stop(groups: dict[str, Group]) -> None:
    for group in groups.values():
        group.stop()
