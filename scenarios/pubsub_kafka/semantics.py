"""Queue versus publish-subscribe on one topic, rebalancing, lag, and the dead letter.

One publish of EVENTS orders (CUSTOMERS customers, key = customer id) plus
one poison record, with no consumer running: the records wait in the log.
Then two groups read the same records, each at its own offsets:
- `queue`: members share the partitions (each record to one member), while
  a third member joins and the first leaves; every join or leave is a
  rebalance, after which processing goes on;
- `fanout`: one member that receives every record.
Both groups start at this run's first offsets (committed for them before
they join), so earlier runs' records are not counted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from aiokafka import TopicPartition

from comms_sandbox import kafka as host_kafka
from comms_sandbox.kafka_offsets import Inspector, Offsets, named
from order_events import kafka as events
from order_events.model import POISON, sample_orders
from scenarios.pubsub_kafka.groups import Group, order_violations, stall_s

EVENTS = 300
CUSTOMERS = 12  # by the key hash: 5, 3 and 4 customers on the 3 partitions
POISON_KEY = b"C-poison"
# Simulated work per event in the queue group, so a join and a leave land
# mid-stream: about 2 s of work for 2-3 members.
PROCESS_S = 0.015
MAX_RECORDS = 10  # per pull; a member finishes its batch before a rebalance goes on
JOIN_AT = 75  # events processed by the queue group when a third member joins
LEAVE_AT = 175  # ... and when the first member leaves
DONE_TIMEOUT_S = 60


@dataclass
class Published:
    """What this run put in the log, from the broker's acknowledgements."""

    run_id: str
    start: Offsets  # log end offsets before publishing
    dead_letter_start: Offsets
    log_start: Offsets  # the oldest offsets still in the log, before publishing
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # event_id -> where/when
    poison: dict[str, Any] = field(default_factory=dict)
    split_ms: int = 0  # a timestamp between the two halves, for replay by time

    def ids(self) -> set[str]:
        return set(self.events)

    def all_ids(self) -> set[str]:
        return self.ids() | {self.poison["event_id"]}


async def publish(inspector: Inspector, run_id: str) -> Published:
    """EVENTS orders in two halves a moment apart, then the poison record."""
    published = Published(
        run_id,
        await inspector.log_end(events.ORDERS_TOPIC),
        await inspector.log_end(events.DEAD_LETTER_TOPIC),
        await inspector.log_start(events.ORDERS_TOPIC),
    )
    orders = sample_orders(EVENTS, customers=CUSTOMERS)
    async with events.OrderPublisher(inspector.bootstrap) as publisher:
        for n, order in enumerate(orders):
            if n == EVENTS // 2:
                published.split_ms = await _split_moment()
            meta = await publisher.publish(order)
            published.events[str(order.event_id)] = _where(meta) | {
                "event_id": str(order.event_id),
                "customer": order.customer_id,
                "sequence": order.sequence,
            }
        poison_id = str(uuid4())
        meta = await publisher.publish_raw(POISON, key=POISON_KEY, event_id=poison_id)
        published.poison = _where(meta) | {"event_id": poison_id}
    return published


async def _split_moment() -> int:
    """A millisecond strictly after the first half and before the second."""
    await asyncio.sleep(0.05)
    split = int(time.time() * 1000)
    await asyncio.sleep(0.05)
    return split


def _where(meta: Any) -> dict[str, int]:
    return {"partition": meta.partition, "offset": meta.offset, "timestamp_ms": meta.timestamp}


async def run(inspector: Inspector, run_id: str) -> tuple[Published, dict[str, Any]]:
    """Publish, then let both groups consume; returns what was published and the findings."""
    published = await publish(inspector, run_id)
    groups = {name: f"pubsub-kafka-{run_id}-{name}" for name in ("queue", "fanout")}
    for group_id in groups.values():
        await inspector.seed(group_id, events.ORDERS_TOPIC, published.start)
    lag = {"after publishing, nobody consuming": await _lags(inspector, groups)}
    partitions = await inspector.partitions(events.ORDERS_TOPIC)
    async with events.OrderPublisher(inspector.bootstrap) as dead_letters:
        queue = await _queue(
            groups["queue"], inspector.bootstrap, dead_letters, partitions, published
        )
        lag["after the queue group"] = await _lags(inspector, groups)
        fanout = await _fanout(groups["fanout"], inspector.bootstrap, dead_letters, published)
        lag["after the fanout group"] = await _lags(inspector, groups)
    findings = {
        "run_id": run_id,
        "groups": groups,
        "published": _published_summary(published),
        "queue": queue,
        "fanout": fanout,
        "lag": lag,
        "dead_letter": await _dead_letters(inspector, published, groups),
    }
    return published, findings


async def _lags(inspector: Inspector, groups: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per group: lag per partition and in total."""
    found = {}
    for name, group_id in groups.items():
        lag = await inspector.lag(group_id, events.ORDERS_TOPIC)
        found[name] = named(lag) | {"total": sum(lag.values())}
    return found


def _published_summary(published: Published) -> dict[str, Any]:
    per_partition = Counter(f"orders-{e['partition']}" for e in published.events.values())
    customers: dict[str, set[str]] = {}
    for e in published.events.values():
        customers.setdefault(f"orders-{e['partition']}", set()).add(e["customer"])
    return {
        "events": len(published.events),
        "customers": CUSTOMERS,
        "poison": dict(published.poison),
        "per_partition": dict(sorted(per_partition.items())),
        "customers_per_partition": {tp: sorted(c) for tp, c in sorted(customers.items())},
        "start_offsets": named(published.start),
    }


async def _queue(
    group_id: str,
    bootstrap: str,
    dead_letters: events.OrderPublisher,
    partitions: list[TopicPartition],
    published: Published,
) -> dict[str, Any]:
    """Two members split the partitions; a third joins, the first leaves; nothing is lost."""
    group = Group(group_id, bootstrap, dead_letters, PROCESS_S, MAX_RECORDS)
    timeline: list[dict[str, Any]] = []
    try:
        split = await _two_members(group, partitions, timeline)
        await _change(
            group, partitions, timeline, at=JOIN_AT, label="consumer-3 joins",
            action=lambda: group.add("consumer-3"),
        )  # fmt: skip
        await _change(
            group, partitions, timeline, at=LEAVE_AT, label="consumer-1 leaves",
            action=lambda: group.remove("consumer-1"),
        )  # fmt: skip
        await group.wait_until(
            lambda: group.processed() >= EVENTS and group.dead_lettered() >= 1, DONE_TIMEOUT_S
        )
    finally:
        await group.close()
    return _group_report(group, published) | {
        "two_members": _coverage(split, partitions),
        "timeline": timeline,
        "rebalances": len(timeline) - 1,
        "process_ms_per_event": PROCESS_S * 1000,
    }


async def _two_members(
    group: Group, partitions: list[TopicPartition], timeline: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """Both join before either pulls, so the first split is theirs; then both pull."""
    await asyncio.gather(group.add("consumer-1", pull=False), group.add("consumer-2", pull=False))
    settle = await group.wait_until(lambda: group.stable(partitions))
    split = group.assignment()
    timeline.append({
        "t_s": group.elapsed_s(),
        "event": "consumer-1 and consumer-2 joined",
        "settled_after_s": settle,
        "assignment": split,
    })  # fmt: skip
    group.pull("consumer-1")
    group.pull("consumer-2")
    return split


async def _change(
    group: Group,
    partitions: list[TopicPartition],
    timeline: list[dict[str, Any]],
    *,
    at: int,
    label: str,
    action: Callable[[], Awaitable[Any]],
) -> None:
    """When `at` events are processed, join or leave, and time the rebalance."""
    await group.wait_until(lambda: group.processed() >= at, DONE_TIMEOUT_S)
    started = group.elapsed_s()
    processed_at = group.processed()
    await action()
    await group.wait_until(lambda: group.stable(partitions))
    settled = group.elapsed_s()
    await asyncio.sleep(0.3)  # let processing resume, to measure the stall
    timeline.append({
        "t_s": started,
        "event": label,
        "processed_before": processed_at,
        "settled_after_s": round(settled - started, 3),
        "stall_s": stall_s(group.deliveries, started, settled),
        "processed_after_settling": group.processed() - processed_at,
        "assignment": group.assignment(),
        "coverage": _coverage(group.assignment(), partitions),
    })  # fmt: skip


def _coverage(assignment: dict[str, list[str]], partitions: list[TopicPartition]) -> dict[str, Any]:
    owners = Counter(tp for tps in assignment.values() for tp in tps)
    expected = {f"{tp.topic}-{tp.partition}" for tp in partitions}
    return {
        "assignment": assignment,
        "overlap": sorted(tp for tp, n in owners.items() if n > 1),
        "uncovered": sorted(expected - set(owners)),
        "holds": set(owners) == expected and all(n == 1 for n in owners.values()),
    }


async def _fanout(
    group_id: str, bootstrap: str, dead_letters: events.OrderPublisher, published: Published
) -> dict[str, Any]:
    """One subscriber in a second group: it gets every record the queue group got."""
    group = Group(group_id, bootstrap, dead_letters)
    try:
        await group.add("subscriber-1")
        await group.wait_until(
            lambda: group.processed() >= EVENTS and group.dead_lettered() >= 1, DONE_TIMEOUT_S
        )
    finally:
        await group.close()
    return _group_report(group, published)


def _group_report(group: Group, published: Published) -> dict[str, Any]:
    received = {d.event_id for d in group.deliveries}
    per_consumer = Counter(d.consumer for d in group.deliveries)
    per_partition = Counter(f"orders-{d.partition}" for d in group.deliveries)
    matrix: dict[str, dict[str, int]] = {}
    for d in group.deliveries:
        row = matrix.setdefault(d.consumer, {})
        row[f"orders-{d.partition}"] = row.get(f"orders-{d.partition}", 0) + 1
    violations = order_violations(group.deliveries)
    return {
        "group_id": group.group_id,
        "processed": len(group.deliveries),
        "unique": len(received),
        "lost": len(published.ids() - received),
        "duplicates": group.dedupe.duplicates,
        "dead_lettered": group.dead_lettered(),
        "order_violations": len(violations),
        "order_violation_examples": violations[:5],
        "per_consumer": dict(sorted(per_consumer.items())),
        "per_partition": dict(sorted(per_partition.items())),
        "consumer_x_partition": {k: dict(sorted(v.items())) for k, v in sorted(matrix.items())},
        "members": group.stats(),
    }


async def _dead_letters(
    inspector: Inspector, published: Published, groups: dict[str, str]
) -> dict[str, Any]:
    """The poison record in the dead-letter topic: once per group that refused it, with why."""
    source = f"{events.ORDERS_TOPIC}/{published.poison['partition']}/{published.poison['offset']}"
    end = await inspector.log_end(events.DEAD_LETTER_TOPIC)
    records = await inspector.read(events.DEAD_LETTER_TOPIC, published.dead_letter_start, end)
    found = []
    for record in records:
        headers = host_kafka.headers_of(record)
        if headers.get(events.SOURCE_HEADER, b"").decode() != source:
            continue
        # Other groups (the observability lesson's ledger) refuse the same poison: not ours.
        if headers.get(events.GROUP_HEADER, b"").decode() not in groups.values():
            continue
        found.append({
            "dead_letter_offset": record.offset,
            "group": headers.get(events.GROUP_HEADER, b"").decode(),
            "reason": headers.get(events.REASON_HEADER, b"").decode(),
            "event_id": headers.get(events.EVENT_ID_HEADER, b"").decode(),
            "value_unchanged": record.value == POISON,
        })  # fmt: skip
    by_group = {f["group"] for f in found}
    return {
        "source": source,
        "records": found,
        "holds": by_group == set(groups.values())
        and all(f["reason"] and f["value_unchanged"] for f in found),
    }
