"""The relay's loop: claim a batch of pending outbox rows, publish them, mark what was confirmed.

One transaction per batch:
  1. claim: the oldest rows still pending for a broker that is not in
     backoff, FOR UPDATE SKIP LOCKED (plan.claim_sql): another relay's rows
     are skipped, never waited for or published twice;
  2. hold back any row whose customer has an older event still pending
     in another relay's batch (plan.held_elsewhere_sql, plan.split_held);
  3. publish to both brokers at once, each in creation order (brokers.py);
  4. mark, per broker, only the events that broker confirmed (plan.mark_sql),
     with the time of the confirmation;
  5. commit: the marks and the locks go together.
A relay killed between 3 and 5 never commits: its marks are lost with its
locks, the rows are pending again, and the next claim publishes them again
(duplicates, which consumers drop by event id; never a loss). A broker that
failed is left out of the claims for a while (plan.Backoff) so the other
broker's events keep leaving; then it is probed with one event, in a
transaction of its own on a second connection, beside the healthy broker's
batches (plan.split_probation), until it confirms again.

Wake-ups: a LISTEN on the channel `outbox`, which the table's insert trigger
notifies at commit; and a poll every RELAY_POLL_S (1 s by default) in case a
notification was missed (the listening connection lost, say). After a full
batch the relay claims again at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from prometheus_client import Counter, Gauge
from psycopg.rows import dict_row
from pydantic import ValidationError
from telemetry.heartbeat import beat

from . import plan
from .brokers import BrokerClient
from .plan import Backoff, Broker, Row
from .settings import Settings

log = logging.getLogger("outbox_relay")

CHANNEL = "outbox"  # pg_notify('outbox', event_id) in the outbox's insert trigger
Connection = psycopg.AsyncConnection[dict[str, Any]]
HELD_RETRY_S = 0.02  # a held-back row waits for another relay's commit: milliseconds
RECONNECT_S = 1.0  # after the database went away

PUBLISHED = Counter(
    "outbox_relay_published", "Outbox events a broker confirmed and the relay marked", ["broker"]
)
FAILED = Counter(
    "outbox_relay_publish_failures", "Events a broker did not confirm in a batch", ["broker"]
)
HELD = Counter(
    "outbox_relay_held_back", "Rows held back behind an older event of theirs in another relay"
)
BATCHES = Counter("outbox_relay_batches", "Transactions that claimed at least one row")
BACKING_OFF = Gauge(
    "outbox_relay_backing_off", "1 while a broker is left alone after a failure", ["broker"]
)


@dataclass
class BatchResult:
    claimed: int = 0
    held: int = 0
    sent: dict[Broker, int] = field(default_factory=dict)
    failed: set[Broker] = field(default_factory=set)


class Relay:
    def __init__(self, settings: Settings, clients: Sequence[BrokerClient]) -> None:
        self.settings = settings
        self.clients = {client.name: client for client in clients}
        self.backoffs = {
            broker: Backoff(base_s=settings.backoff_base_s, cap_s=settings.backoff_cap_s)
            for broker in plan.BROKERS
        }
        self.wake = asyncio.Event()
        self.stopping = False

    def stop(self) -> None:
        """SIGTERM: finish (and commit) the batch in hand, then leave."""
        self.stopping = True
        self.wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        if self.settings.orders_publish == "dual-write":
            await self.stand_by()
            return
        listener = asyncio.create_task(self.listen())
        try:
            while not self.stopping:
                try:
                    async with await self.connect() as conn, await self.connect() as probes:
                        await self.work(conn, probes)
                except psycopg.Error as exc:
                    log.warning("database unavailable", extra={"fields": {"reason": repr(exc)}})
                    await asyncio.sleep(RECONNECT_S)
        finally:
            listener.cancel()
            await asyncio.gather(*(c.close() for c in self.clients.values()))

    async def stand_by(self) -> None:
        """ORDERS_PUBLISH=dual-write: the api publishes; publish nothing, stay healthy."""
        log.warning("ORDERS_PUBLISH=dual-write: the api publishes, the relay stands by")
        while not self.stopping:
            beat()
            await self.idle()

    async def connect(self, autocommit: bool = False) -> Connection:
        conn = await psycopg.AsyncConnection.connect(
            self.settings.database_url,
            autocommit=autocommit,
            row_factory=dict_row,
            application_name="outbox-relay",
            connect_timeout=5,
        )
        # A batch holds its transaction open while the brokers confirm: longer
        # than the server's default for idle transactions may allow.
        held_s = int(self.settings.publish_timeout_s * 2 + 10)
        await conn.execute(
            "SELECT set_config('idle_in_transaction_session_timeout', %s, false)",
            [f"{held_s}s"],
        )
        if not autocommit:
            await conn.commit()
        return conn

    async def listen(self) -> None:
        """Set `wake` on every notification; reconnect when the connection goes (polling covers)."""
        while True:
            try:
                async with await self.connect(autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    log.info("listening", extra={"fields": {"channel": CHANNEL}})
                    async for _ in conn.notifies():
                        self.wake.set()
            except psycopg.Error as exc:
                log.warning("not listening", extra={"fields": {"reason": repr(exc)}})
                await asyncio.sleep(RECONNECT_S)

    async def work(self, conn: Connection, probes: Connection) -> None:
        """Batches for the healthy brokers on `conn`, probes of one event on `probes`, at once."""
        while not self.stopping:
            ready = plan.ready_brokers(self.backoffs, time.monotonic())
            if not ready:  # both failed recently: nothing to claim until one is due
                beat()
                await self.idle()
                continue
            healthy, probing = plan.split_probation(ready, self.backoffs)
            self.wake.clear()  # before the claim: a commit after it wakes the next wait
            results = await asyncio.gather(
                self.relay_batch(conn, healthy, self.settings.batch_size),
                self.relay_batch(probes, probing, 1),
            )
            beat()
            for result in results:
                self.note(result)
            main = results[0]
            if main.claimed == self.settings.batch_size and not main.failed:
                continue  # more may be waiting
            if main.held or results[1].held:
                await asyncio.sleep(HELD_RETRY_S)
                continue
            await self.idle()

    async def idle(self) -> None:
        wait = plan.idle_wait(self.backoffs, time.monotonic(), self.settings.poll_s)
        # A timeout is the polling fallback: claim anyway.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), wait)

    async def relay_batch(self, conn: Connection, brokers: list[Broker], limit: int) -> BatchResult:
        """One transaction: claim up to `limit` rows pending for `brokers`, publish, mark."""
        result = BatchResult()
        if not brokers:
            return result
        async with conn.transaction():
            claimed = await conn.execute(plan.claim_sql(brokers), {"limit": limit})
            rows = [Row.from_record(record) for record in await claimed.fetchall()]
            result.claimed = len(rows)
            if not rows:
                return result
            go, held = plan.split_held(rows, await self.held_elsewhere(conn, rows, brokers))
            result.held = len(held)
            for broker, (sent, outcomes) in (await self.publish(go, brokers)).items():
                result.sent[broker] = len(sent)
                if plan.failed(sent, outcomes):
                    result.failed.add(broker)
                    FAILED.labels(broker).inc(len(sent) - len(plan.confirmed(outcomes)))
                if ids := plan.confirmed(outcomes):
                    marked = [UUID(event_id) for event_id in ids]
                    await conn.execute(plan.mark_sql(broker), {"ids": marked})
                    PUBLISHED.labels(broker).inc(len(ids))
        return result

    async def held_elsewhere(
        self, conn: Connection, rows: list[Row], brokers: list[Broker]
    ) -> dict[str, datetime]:
        answer = await conn.execute(
            plan.held_elsewhere_sql(brokers),
            {
                "newest": max(row.created_at for row in rows),
                "mine": [row.event_id for row in rows],
                "keys": sorted({row.ordering_key for row in rows}),
            },
        )
        return {record["ordering_key"]: record["oldest"] for record in await answer.fetchall()}

    async def publish(
        self, rows: list[Row], brokers: list[Broker]
    ) -> dict[Broker, tuple[list[str], plan.Outcomes]]:
        """Each broker gets its pending rows, in order, both brokers at once: (sent, outcomes).

        A broker on probation gets a probe's short time to confirm (plan.attempt_timeout).
        """
        messages = {str(row.event_id): self.message(row) for row in rows}
        batches = {
            broker: [messages[str(row.event_id)] for row in plan.for_broker(rows, broker)]
            for broker in brokers
        }
        batches = {broker: batch for broker, batch in batches.items() if batch}
        timeout = self.settings.publish_timeout_s
        answers = await asyncio.gather(
            *(
                self.clients[broker].publish(
                    batch, plan.attempt_timeout(self.backoffs[broker], timeout)
                )
                for broker, batch in batches.items()
            )
        )
        return {
            broker: ([m.event_id for m in batches[broker]], answer)
            for broker, answer in zip(batches, answers, strict=True)
        }

    def message(self, row: Row) -> plan.Message:
        try:
            return plan.message(row)
        except ValidationError as exc:
            # Sent as stored: the consumers dead-letter what they cannot read,
            # instead of one bad row blocking the outbox forever.
            log.error(
                "outbox row is not a valid event, sent as stored",
                extra={"fields": {"event_id": str(row.event_id), "reason": str(exc)[:200]}},
            )
            return plan.raw_message(row)

    def note(self, result: BatchResult) -> None:
        """Back off the brokers that failed this batch; reset those that confirmed all of it."""
        if result.claimed:
            BATCHES.inc()
        HELD.inc(result.held)
        now = time.monotonic()
        for broker, count in result.sent.items():
            backoff = self.backoffs[broker]
            if broker in result.failed:
                wait = backoff.failed(now)
                log.warning(
                    "broker failed, backing off",
                    extra={"fields": {"broker": broker, "wait_s": round(wait, 2), "batch": count}},
                )
            elif backoff.failures:
                log.info("broker back", extra={"fields": {"broker": broker}})
                backoff.succeeded()
            BACKING_OFF.labels(broker).set(0 if backoff.ready(now) else 1)
