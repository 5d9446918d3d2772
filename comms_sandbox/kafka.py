"""Kafka from the host: consumer-group members that commit after processing, dead letters.

The publisher is the api's own (services/order_events/kafka.py, imported by its one
name, order_events.kafka); this module is what only scenarios, tests and benchmarks
need.

A GroupMember is one member of a consumer group. It pulls batches, processes
them, and commits the offsets it processed, after processing (at-least-once).
A record that is not a valid OrderPlaced goes to the dead-letter topic with the
reason in a header, and only then is its offset committed: nothing is silently
dropped. An event id seen before (a retried publish, a redelivery after a
failed commit) is counted as a duplicate and not processed again. When the
group rebalances, the member finishes and commits its current batch before
giving its partitions up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError

from order_events.kafka import (
    EVENT_ID_HEADER,
    ORDERS_TOPIC,
    OrderPublisher,
    dead_letter,
)
from order_events.model import InvalidEventError, OrderPlaced

log = logging.getLogger(__name__)

Handler = Callable[[OrderPlaced, ConsumerRecord], Awaitable[None]]


def headers_of(record: ConsumerRecord) -> dict[str, bytes]:
    """A record's headers as a dict (the last value wins for a repeated name)."""
    return {name: value for name, value in record.headers or ()}


def event_id_of(record: ConsumerRecord) -> str | None:
    """The event id header, if the publisher set one."""
    value = headers_of(record).get(EVENT_ID_HEADER)
    return value.decode() if value is not None else None


@dataclass
class Deduplicator:
    """Event ids already processed: the idempotency store members of one group share."""

    seen: set[str] = field(default_factory=set)
    duplicates: int = 0

    def is_duplicate(self, event_id: str) -> bool:
        if event_id in self.seen:
            self.duplicates += 1
            return True
        return False

    def mark(self, event_id: str) -> None:
        self.seen.add(event_id)


@dataclass
class MemberStats:
    """What one member did: JSON-friendly counts and its assignment history."""

    batches: int = 0  # pulls that returned records
    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    skipped_revoked: int = 0  # fetched, but the partition was taken away before processing
    commit_failures: int = 0
    per_partition: dict[str, int] = field(default_factory=dict)  # received, all kinds
    rebalances: list[dict[str, Any]] = field(default_factory=list)


def tp_name(tp: TopicPartition) -> str:
    return f"{tp.topic}-{tp.partition}"


class GroupMember(ConsumerRebalanceListener):
    """One consumer in a group: pull, process, dead-letter the invalid, commit after processing.

    `handle(event, record)` is awaited for each new, valid event. Records are
    processed and committed under a lock that the rebalance listener also
    takes, so a member that loses partitions first finishes and commits what
    it fetched from them, and the next owner starts after it.
    """

    def __init__(
        self,
        name: str,
        group_id: str,
        bootstrap: str,
        handle: Handler,
        *,
        dead_letters: OrderPublisher,
        dedupe: Deduplicator,
        topics: tuple[str, ...] = (ORDERS_TOPIC,),
        max_records: int = 50,
        **consumer_options: Any,
    ) -> None:
        self.name = name
        self.group_id = group_id
        self.handle = handle
        self.dead_letters = dead_letters
        self.dedupe = dedupe
        self.topics = topics
        self.max_records = max_records
        self.stats = MemberStats()
        self.owned: set[TopicPartition] = set()
        self._lock = asyncio.Lock()
        options = {
            "enable_auto_commit": False,  # commit after processing, never before
            "auto_offset_reset": "earliest",
            # Faster than the defaults, so joins and leaves show within a second.
            "heartbeat_interval_ms": 300,
            "session_timeout_ms": 10_000,
            "client_id": name,
        } | consumer_options
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, **options)

    async def start(self) -> None:
        await self.consumer.start()
        self.consumer.subscribe(list(self.topics), listener=self)

    async def stop(self) -> None:
        """Leave the group; call it once run() has returned (every batch is committed by then)."""
        await self.consumer.stop()

    # -- rebalance listener ---------------------------------------------------

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._lock:  # wait for the batch in hand to be committed
            self.owned.clear()
        self.stats.rebalances.append({"revoked": sorted(map(tp_name, revoked))})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.owned = set(assigned)
        self.stats.rebalances.append({"assigned": sorted(map(tp_name, assigned))})

    # -- the loop -------------------------------------------------------------

    async def poll(self, timeout_ms: int = 200) -> int:
        """Pull one batch (up to max_records), process it and commit; return records processed."""
        batch = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=self.max_records)
        if not batch:
            return 0
        self.stats.batches += 1
        done = 0
        async with self._lock:
            offsets: dict[TopicPartition, int] = {}
            for tp, records in batch.items():
                if tp not in self.owned:  # revoked meanwhile: its next owner reads it
                    self.stats.skipped_revoked += len(records)
                    continue
                for record in records:
                    await self._process(record)
                    offsets[tp] = record.offset + 1
                    done += 1
            await self._commit(offsets)
        return done

    async def run(self, stop: asyncio.Event, timeout_ms: int = 200) -> None:
        """Poll until `stop` is set."""
        while not stop.is_set():
            await self.poll(timeout_ms)

    async def _process(self, record: ConsumerRecord) -> None:
        tp = tp_name(TopicPartition(record.topic, record.partition))
        self.stats.per_partition[tp] = self.stats.per_partition.get(tp, 0) + 1
        event_id = event_id_of(record)
        if event_id is not None and self.dedupe.is_duplicate(event_id):
            self.stats.duplicates += 1
            return
        try:
            event = OrderPlaced.from_bytes(record.value)
        except InvalidEventError as exc:
            await dead_letter(self.dead_letters, record, str(exc), self.group_id)
            self.stats.dead_lettered += 1
            if event_id is not None:
                self.dedupe.mark(event_id)
            return
        event_id = str(event.event_id)
        if self.dedupe.is_duplicate(event_id):
            self.stats.duplicates += 1
            return
        await self.handle(event, record)
        self.dedupe.mark(event_id)
        self.stats.processed += 1

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The group moved on (or the broker is away): these records will be
            # delivered again, and the event ids turn them into duplicates.
            self.stats.commit_failures += 1
            log.warning("%s: commit failed, records will be redelivered: %s", self.name, exc)
