"""A bounded keyed stream into the Kafka cluster, and a full read-back to check it.

Each record is "KEY:SEQ" with SEQ counting up per key, so what a consumer reads
back shows both loss (an acknowledged record missing) and order (a key's
sequence going backwards). Every acknowledgement is timed, so a chart shows
when writes stalled.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, KafkaTimeoutError

from comms_sandbox.clusters import kafka_bootstrap
from scenarios import narration

KEYS = 12
BLOCKED_FOR_S = 60.0
# A killed node makes aiokafka log every reconnect attempt as an error; the
# lesson reports what happened from the results instead.
logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


@dataclass
class Stream:
    """What the producer sent, and what the cluster acknowledged and when."""

    acks: str
    label: str = ""  # starts every value, so streams into one topic stay apart
    sent: int = 0
    acked: dict[str, tuple[float, int]] = field(default_factory=dict)  # value -> (s, partition)
    failed: dict[str, str] = field(default_factory=dict)  # "key:seq" -> error name
    send_blocked: int = 0  # times send() gave up while the buffer was full (then retried)

    def summary(self) -> dict[str, Any]:
        return {
            "acks": self.acks,
            "sent": self.sent,
            "acknowledged": len(self.acked),
            "failed": len(self.failed),
            "errors": sorted(set(self.failed.values())),
            "send_blocked": self.send_blocked,
        }


def producer(acks: str, **options: Any) -> AIOKafkaProducer:
    """acks="all" with idempotence (no duplicates, order kept across retries), or acks=1."""
    idempotent = acks == "all" and options.pop("idempotent", True)
    return AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap(),
        acks="all" if acks == "all" else int(acks),
        enable_idempotence=idempotent,
        **{"linger_ms": 5, **options},
    )


async def produce(topic: str, stream: Stream, records: int, rate: float, started: float,
                  **options: Any) -> Stream:  # fmt: skip
    """records keyed records at about rate per second; waits for every answer.

    Narrated as a load: sent, acknowledged (answered) and failed, as they happen.
    """
    seq: defaultdict[int, int] = defaultdict(int)
    pending = []
    name = f"{topic} (acks={stream.acks})"
    with narration.load(name, records / rate, total=records) as counts:

        def told() -> None:
            counts.update(sent=stream.sent, answered=len(stream.acked), failed=len(stream.failed))

        async with producer(stream.acks, **options) as client:
            for n in range(records):
                key = n % KEYS
                value = f"{stream.label}k{key}:{seq[key]}"
                seq[key] += 1
                future = await _send(client, topic, value, f"k{key}", stream)
                if future is not None:
                    answer = _answer(future, value, stream, started, told)
                    pending.append(asyncio.ensure_future(answer))
                stream.sent += 1
                told()
                await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.monotonic()))
            await asyncio.gather(*pending)
    return stream


async def _send(client: AIOKafkaProducer, topic: str, value: str, key: str,
                stream: Stream) -> asyncio.Future | None:  # fmt: skip
    """send(), waiting while the producer's buffer for a leaderless partition is full.

    aiokafka's send() gives up after its request timeout when the batch for the
    partition cannot be sent (no reachable leader) and is full. The stream then
    waits and offers the same record again, as an application would: it is
    backpressure, not a loss. After BLOCKED_FOR_S the record counts as failed.
    """
    deadline = time.monotonic() + BLOCKED_FOR_S
    while True:
        try:
            return await client.send(topic, value.encode(), key=key.encode())
        except KafkaTimeoutError:
            stream.send_blocked += 1
            if time.monotonic() > deadline:
                stream.failed[value] = "KafkaTimeoutError"
                return None


async def _answer(future: asyncio.Future, value: str, stream: Stream, started: float,
                  told: Callable[[], None]) -> None:  # fmt: skip
    try:
        metadata = await future
        stream.acked[value] = (round(time.monotonic() - started, 3), metadata.partition)
    except KafkaError as error:
        stream.failed[value] = type(error).__name__
    told()


async def read_all(topic: str, partitions: int, timeout_s: float = 20) -> list[str]:
    """Every record the partitions' leaders serve, from the start to their end now."""
    with narration.waiting(f"{topic} read back from the start", expected_s=2):
        return await _read_all(topic, partitions, timeout_s)


async def _read_all(topic: str, partitions: int, timeout_s: float) -> list[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap(), enable_auto_commit=False,
                                isolation_level="read_uncommitted")  # fmt: skip
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        values: list[str] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and await _behind(consumer, ends):
            batches = await consumer.getmany(timeout_ms=500)
            values += [r.value.decode() for records in batches.values() for r in records]
        return values
    finally:
        await consumer.stop()


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    positions = [await consumer.position(tp) for tp in ends]
    return any(position < end for position, end in zip(positions, ends.values(), strict=True))


def stalls(stream: Stream, partition: int) -> float:
    """The longest wait, in seconds, between two acknowledgements of one partition's records."""
    times = sorted(t for t, p in stream.acked.values() if p == partition)
    return round(max((b - a for a, b in itertools.pairwise(times)), default=0.0), 2)


def check(stream: Stream, read: list[str]) -> dict[str, Any]:
    """Acknowledged records missing from the read, duplicates, and keys read out of order."""
    seen = set(read)
    lost = sorted(v for v in stream.acked if v not in seen)
    last: dict[str, int] = {}
    out_of_order = 0
    for value in read:
        key, seq = value.split(":")
        if int(seq) <= last.get(key, -1):
            out_of_order += 1
        last[key] = int(seq)
    return {**stream.summary(), "read": len(read), "lost": len(lost), "lost_examples": lost[:5],
            "duplicates": len(read) - len(seen), "out_of_order": out_of_order}  # fmt: skip
