"""Offsets, seen from outside the consumers: log start and end, committed offsets, lag.

Lag is end offset minus committed offset, per partition: how many records a
group has not consumed yet. Both ends come from the broker, so the numbers
are what `kafka-consumer-groups.sh --describe` would print.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from comms_sandbox import config
from comms_sandbox.health import SandboxNotUpError
from order_events import kafka as events

Offsets = dict[int, int]  # partition -> offset
READ_TIMEOUT_S = 60


def named(offsets: Offsets, topic: str = events.ORDERS_TOPIC) -> dict[str, int]:
    """{0: 12} -> {"orders-0": 12}: the names Kafka's tools print, and JSON-friendly keys."""
    return {f"{topic}-{p}": offset for p, offset in sorted(offsets.items())}


class Inspector:
    """An admin client and a group-less consumer, for reading offsets (async context manager)."""

    def __init__(self, bootstrap: str | None = None) -> None:
        self.bootstrap = bootstrap or config.kafka_bootstrap()

    async def __aenter__(self) -> Inspector:
        await require_kafka(self.bootstrap)  # before any client exists: advice, not noise
        self.admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await self.admin.start()
        await self.consumer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def partitions(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in await partition_ids(self.admin, topic)]

    async def log_end(self, topic: str) -> Offsets:
        """The offset the next record will get, per partition."""
        ends = await self.consumer.end_offsets(await self.partitions(topic))
        return {tp.partition: offset for tp, offset in ends.items()}

    async def log_start(self, topic: str) -> Offsets:
        """The oldest offset still in the log (moves only when retention deletes a segment)."""
        starts = await self.consumer.beginning_offsets(await self.partitions(topic))
        return {tp.partition: offset for tp, offset in starts.items()}

    async def committed(self, group: str, topic: str) -> dict[int, int | None]:
        found = await self.admin.list_consumer_group_offsets(group)
        by_partition = {
            tp.partition: meta.offset for tp, meta in found.items() if tp.topic == topic
        }
        return {tp.partition: by_partition.get(tp.partition) for tp in await self.partitions(topic)}

    async def lag(self, group: str, topic: str) -> Offsets:
        """End offset minus committed offset, per partition (no commit yet: the whole log)."""
        ends, starts = await self.log_end(topic), await self.log_start(topic)
        committed = await self.committed(group, topic)
        return {
            p: end - (committed.get(p) if committed.get(p) is not None else starts[p])
            for p, end in ends.items()
        }

    async def offsets_for_time(self, topic: str, timestamp_ms: int) -> Offsets:
        """Per partition, the first offset whose timestamp is at or after timestamp_ms.

        A partition with no such record gets its end offset (nothing to read).
        """
        tps = await self.partitions(topic)
        found = await self.consumer.offsets_for_times(dict.fromkeys(tps, timestamp_ms))
        ends = await self.log_end(topic)
        return {
            tp.partition: found[tp].offset if found.get(tp) else ends[tp.partition] for tp in tps
        }

    async def read(self, topic: str, start: Offsets, end: Offsets) -> list[ConsumerRecord]:
        """Every record from start up to (not including) end, per partition; commits nothing."""
        wanted = {TopicPartition(topic, p): end[p] for p in start if end[p] > start[p]}
        if not wanted:
            return []
        self.consumer.assign(list(wanted))
        for tp in wanted:
            self.consumer.seek(tp, start[tp.partition])
        records: list[ConsumerRecord] = []
        async with asyncio.timeout(READ_TIMEOUT_S):
            while await self._behind(wanted):
                batch = await self.consumer.getmany(timeout_ms=500, max_records=1000)
                for tp, got in batch.items():
                    records += [r for r in got if r.offset < wanted[tp]]
        self.consumer.unsubscribe()
        return records

    async def _behind(self, wanted: dict[TopicPartition, int]) -> bool:
        for tp, stop in wanted.items():
            if await self.consumer.position(tp) < stop:
                return True
        return False

    async def seed(self, group: str, topic: str, offsets: Offsets) -> None:
        """Commit `offsets` for a group nobody has joined yet, so it starts there.

        A fresh group would otherwise start at the oldest record (or the
        newest), and this run's counts would include every earlier run's.
        """
        seeder = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
        )
        await seeder.start()
        try:
            tps = {TopicPartition(topic, p): offset for p, offset in offsets.items()}
            seeder.assign(list(tps))
            await seeder.commit(tps)
        finally:
            await seeder.stop()


async def partition_ids(admin: AIOKafkaAdminClient, topic: str) -> list[int]:
    """The topic's partitions, sorted; empty when the topic does not exist."""
    (described,) = await admin.describe_topics([topic])
    return sorted(p["partition"] for p in described["partitions"])


async def require_kafka(bootstrap: str) -> None:
    """Fail with advice, not a traceback, when Kafka or its topics are missing."""
    host, port = bootstrap.rsplit(":", 1)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 3)
    except (OSError, TimeoutError) as exc:
        raise SandboxNotUpError(
            f"Kafka does not answer at {bootstrap} ({type(exc).__name__}). "
            "Start the sandbox with `make up` (or set KAFKA_PORT if you moved it)."
        ) from exc
    writer.close()
    await writer.wait_closed()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for topic, partitions in events.TOPICS.items():
            found = await partition_ids(admin, topic)
            if len(found) != partitions:
                raise SandboxNotUpError(
                    f"topic {topic} has {len(found)} partitions, expected {partitions}: "
                    "the kafka-init service creates it (`make up`; `make ps` shows its health)."
                )
    finally:
        await admin.close()
