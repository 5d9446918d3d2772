"""A consumer group under the scenario's control: members join and leave, deliveries are logged.

Every member shares the group's Deduplicator (the idempotency store) and its
delivery log, in processing order, so the report can check per-key order
across members and across rebalances.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from comms_sandbox.kafka import Deduplicator, GroupMember, tp_name
from order_events.kafka import OrderPublisher
from order_events.model import OrderPlaced


@dataclass(frozen=True)
class Delivery:
    """One event a member processed (duplicates and dead letters are not deliveries)."""

    t_s: float
    consumer: str
    customer: str
    sequence: int
    partition: int
    offset: int
    event_id: str


class Group:
    """Members of one consumer group, each pulling in its own task."""

    def __init__(
        self,
        group_id: str,
        bootstrap: str,
        dead_letters: OrderPublisher,
        process_s: float = 0.0,
        max_records: int = 50,
    ) -> None:
        self.group_id = group_id
        self.bootstrap = bootstrap
        self.dead_letters = dead_letters
        self.process_s = process_s  # simulated work per event
        self.max_records = max_records
        self.dedupe = Deduplicator()
        self.deliveries: list[Delivery] = []
        self.members: dict[str, GroupMember] = {}
        self.retired: dict[str, GroupMember] = {}
        self._loops: dict[str, tuple[asyncio.Event, asyncio.Task[None]]] = {}
        self.t0 = time.monotonic()

    def elapsed_s(self) -> float:
        return round(time.monotonic() - self.t0, 3)

    def _handler(self, name: str) -> Callable[[OrderPlaced, ConsumerRecord], Any]:
        async def handle(event: OrderPlaced, record: ConsumerRecord) -> None:
            if self.process_s:
                await asyncio.sleep(self.process_s)
            self.deliveries.append(
                Delivery(
                    self.elapsed_s(),
                    name,
                    event.customer_id,
                    event.sequence,
                    record.partition,
                    record.offset,
                    str(event.event_id),
                )
            )

        return handle

    async def add(self, name: str, *, pull: bool = True) -> GroupMember:
        """Start a member (it joins the group); with pull=False it joins but does not fetch yet."""
        member = GroupMember(
            name, self.group_id, self.bootstrap, self._handler(name),
            dead_letters=self.dead_letters, dedupe=self.dedupe, max_records=self.max_records,
        )  # fmt: skip
        await member.start()
        self.members[name] = member
        if pull:
            self.pull(name)
        return member

    def pull(self, name: str) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(self.members[name].run(stop), name=f"{self.group_id}/{name}")
        self._loops[name] = (stop, task)

    async def remove(self, name: str) -> None:
        """The member finishes its batch, commits, and leaves the group."""
        stop, task = self._loops.pop(name)
        stop.set()
        await task
        member = self.members.pop(name)
        await member.stop()
        self.retired[name] = member

    async def close(self) -> None:
        """Stop every member, even after one of them failed (its error is raised elsewhere)."""
        for name in list(self.members):
            if name in self._loops:
                stop, task = self._loops.pop(name)
                stop.set()
                await asyncio.gather(task, return_exceptions=True)
            member = self.members.pop(name)
            await member.stop()
            self.retired[name] = member

    def assignment(self) -> dict[str, list[str]]:
        return {name: sorted(tp_name(tp) for tp in m.owned) for name, m in self.members.items()}

    def stable(self, partitions: list[TopicPartition]) -> bool:
        """Every member owns something, nobody shares, and every partition has an owner."""
        owned = [m.owned for m in self.members.values()]
        union = set().union(*owned) if owned else set()
        busy = min(len(self.members), len(partitions))
        return (
            sum(1 for o in owned if o) == busy
            and sum(len(o) for o in owned) == len(union)
            and union == set(partitions)
        )

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float = 30) -> float:
        """Seconds until condition() holds; TimeoutError after timeout_s."""
        started = time.monotonic()
        async with asyncio.timeout(timeout_s):
            while not condition():
                self.raise_if_a_member_failed()  # rather than wait for the timeout
                await asyncio.sleep(0.02)
        return round(time.monotonic() - started, 3)

    def all_members(self) -> dict[str, GroupMember]:
        return self.retired | self.members

    def stats(self) -> dict[str, dict[str, Any]]:
        return {name: asdict(m.stats) for name, m in self.all_members().items()}

    def processed(self) -> int:
        return len(self.deliveries)

    def dead_lettered(self) -> int:
        return sum(m.stats.dead_lettered for m in self.all_members().values())

    def raise_if_a_member_failed(self) -> None:
        for _, task in self._loops.values():
            if task.done() and (error := task.exception()) is not None:
                raise error


def order_violations(deliveries: list[Delivery]) -> list[dict[str, Any]]:
    """Deliveries whose sequence is not above the last one seen for the same customer."""
    last: dict[str, int] = {}
    found = []
    for d in deliveries:
        if d.sequence <= last.get(d.customer, 0):
            found.append({"customer": d.customer, "after": last[d.customer], "got": d.sequence})
        last[d.customer] = max(last.get(d.customer, 0), d.sequence)
    return found


def stall_s(deliveries: list[Delivery], start_s: float, end_s: float) -> float:
    """The longest gap between deliveries that spans part of [start_s, end_s]: a rebalance's stall.

    The classic (eager) protocol stops the whole group while partitions move.
    """
    times = [d.t_s for d in deliveries]
    gaps = [b - a for a, b in itertools.pairwise(times) if b >= start_s and a <= end_s]
    return round(max(gaps, default=0.0), 3)
