"""The relay's decisions, with no I/O: what to claim, what to publish, what to mark, when to retry.

Everything here is a function of its arguments, so a unit test can feed it a
broker that failed, a batch another relay holds part of, a backoff that has
not expired (tests/unit/test_outbox_relay.py). relay.py runs the SQL and the
publishers; this module says which.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from order_events.model import OrderPlaced

Broker = Literal["rabbitmq", "kafka"]
BROKERS: tuple[Broker, ...] = ("rabbitmq", "kafka")
# The outbox's column each broker's confirmation is written to (the contract
# with the migrations in services/orders_db/). Only these names reach the SQL.
PUBLISHED_COLUMN: dict[Broker, str] = {
    "rabbitmq": "rabbitmq_published_at",
    "kafka": "kafka_published_at",
}
TABLE = "sandbox.outbox"

MAX_BATCH = 1000  # rows one transaction may lock and publish; the default is far below
# What orders one customer's events: the Kafka key and the RabbitMQ routing key's tail.
ORDERING_KEY = "coalesce(payload->>'customer_id', aggregate_id)"


def check_batch_size(size: int) -> int:
    """A batch size the relay accepts: 1..MAX_BATCH; anything else is refused with the range."""
    if not 1 <= size <= MAX_BATCH:
        raise ValueError(f"batch size must be between 1 and {MAX_BATCH}, not {size}")
    return size


def pending_predicate(brokers: Iterable[Broker]) -> str:
    """`<column> IS NULL OR ...` for the brokers the relay will publish to now.

    A broker in backoff is left out: with Kafka down, the oldest rows all wait
    for Kafka only, and a claim that still asked for them would hand the relay
    the same rows forever while RabbitMQ's newer events never left.
    """
    wanted = [broker for broker in BROKERS if broker in set(brokers)]
    if not wanted:
        raise ValueError("no broker to publish to: nothing to claim")
    return " OR ".join(f"{PUBLISHED_COLUMN[broker]} IS NULL" for broker in wanted)


def claim_sql(brokers: Iterable[Broker]) -> str:
    """Lock the oldest pending rows no other relay holds; `%(limit)s` is the batch size.

    FOR UPDATE SKIP LOCKED: a second relay skips the rows this one holds
    instead of waiting for them or publishing them too. The rows stay locked
    until the transaction ends, which is after the marks are written.
    """
    pending = ", ".join(f"{PUBLISHED_COLUMN[b]} IS NULL AS {b}_pending" for b in BROKERS)
    return (
        f"SELECT event_id, event_type, aggregate_id, payload, created_at, headers, "
        f"{ORDERING_KEY} AS ordering_key, {pending} "
        f"FROM {TABLE} WHERE {pending_predicate(brokers)} "
        f"ORDER BY created_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
    )


def held_elsewhere_sql(brokers: Iterable[Broker]) -> str:
    """Per ordering key, the oldest pending row older than `%(newest)s` that is not ours.

    A plain SELECT sees the rows another relay locked (it does not wait for
    them): if one of a customer's earlier events is still pending there, ours
    must wait, or the two relays would publish that customer's events out of order.
    """
    return (
        f"SELECT {ORDERING_KEY} AS ordering_key, min(created_at) AS oldest "
        f"FROM {TABLE} WHERE ({pending_predicate(brokers)}) "
        f"AND created_at < %(newest)s AND NOT (event_id = ANY(%(mine)s)) "
        f"AND {ORDERING_KEY} = ANY(%(keys)s) GROUP BY 1"
    )


def mark_sql(broker: Broker) -> str:
    """Record that `broker` confirmed these events, at the time it did (not the claim's)."""
    column = PUBLISHED_COLUMN[broker]
    return (
        f"UPDATE {TABLE} SET {column} = clock_timestamp() "
        f"WHERE event_id = ANY(%(ids)s) AND {column} IS NULL"
    )


@dataclass(frozen=True)
class Row:
    """One claimed outbox row and the brokers that have not confirmed it yet."""

    event_id: UUID
    event_type: str
    aggregate_id: str
    payload: Mapping[str, Any]
    created_at: datetime
    ordering_key: str
    pending: frozenset[Broker]
    # The request's message headers, as the api stored them: request id, trace context.
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Row:
        """From claim_sql's columns (a dict row)."""
        pending = frozenset(b for b in BROKERS if record[f"{b}_pending"])
        return cls(
            event_id=record["event_id"],
            event_type=record["event_type"],
            aggregate_id=record["aggregate_id"],
            payload=record["payload"],
            created_at=record["created_at"],
            ordering_key=record["ordering_key"],
            pending=pending,
            headers={str(k): str(v) for k, v in (record.get("headers") or {}).items()},
        )


@dataclass(frozen=True)
class Message:
    """A row as the brokers get it: the same bytes, key and routing key as the api's dual write."""

    event_id: str
    body: bytes
    key: str  # Kafka's record key: one customer's events in one partition, in order
    routing_key: str  # RabbitMQ's: order.placed.<customer>, as rabbit.routing_key() makes it
    headers: Mapping[str, str] = field(default_factory=dict)  # what it is sent under


def message(row: Row) -> Message:
    """The broker message for a row; an OrderPlaced goes through its model, byte for byte.

    Raises pydantic's ValidationError when an OrderPlaced row does not fit
    the model (the caller then sends raw_message(row)).
    """
    if row.event_type != "OrderPlaced":  # an event the relay has no model for
        return raw_message(row)
    event = OrderPlaced.model_validate(dict(row.payload))
    return Message(
        event_id=str(row.event_id),
        body=event.to_bytes(),
        key=row.ordering_key,
        routing_key=f"{event.type}.{row.ordering_key}",
        headers=row.headers,
    )


def raw_message(row: Row) -> Message:
    """The row's JSON as stored, routed by its `type` field (or its event_type)."""
    kind = str(row.payload.get("type", row.event_type))
    return Message(
        event_id=str(row.event_id),
        body=json.dumps(row.payload, separators=(",", ":"), sort_keys=True).encode(),
        key=row.ordering_key,
        routing_key=f"{kind}.{row.ordering_key}",
        headers=row.headers,
    )


def split_held(
    rows: Sequence[Row], oldest_elsewhere: Mapping[str, datetime]
) -> tuple[list[Row], list[Row]]:
    """(to publish, held back): a row waits when an older row of its key is pending elsewhere.

    `oldest_elsewhere` is held_elsewhere_sql's answer. Held rows stay locked
    until this transaction ends and are claimed again later, in order.
    """
    go, held = [], []
    for row in rows:
        oldest = oldest_elsewhere.get(row.ordering_key)
        (held if oldest is not None and oldest < row.created_at else go).append(row)
    return go, held


def for_broker(rows: Iterable[Row], broker: Broker) -> list[Row]:
    """The rows `broker` has not confirmed, in claim (creation) order."""
    return [row for row in rows if broker in row.pending]


# What a broker said about each event it was given: None when it confirmed,
# otherwise why not. An event missing from the answer was not confirmed.
Outcomes = Mapping[str, str | None]


def confirmed(outcomes: Outcomes) -> list[str]:
    """The event ids to mark for a broker: those it confirmed, and only those."""
    return [event_id for event_id, failure in outcomes.items() if failure is None]


def failed(sent: Iterable[str], outcomes: Outcomes) -> bool:
    """True when any event sent to the broker came back unconfirmed (or not at all)."""
    return any(outcomes.get(event_id, "no answer") is not None for event_id in sent)


@dataclass
class Backoff:
    """When to try a broker again after it failed: exponential, capped, with jitter.

    Each failure doubles the wait (base, 2 base, 4 base... up to cap), and a
    random half of it is taken off so that two relays do not retry in step. A
    success resets it. Times are the caller's monotonic clock.
    """

    base_s: float = 0.25
    cap_s: float = 4.0
    failures: int = 0
    retry_at: float = 0.0
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    def ready(self, now: float) -> bool:
        return now >= self.retry_at

    def delay(self) -> float:
        """The wait after the current number of failures (0 when there are none)."""
        if self.failures == 0:
            return 0.0
        full = min(self.cap_s, self.base_s * 2 ** (self.failures - 1))
        return full * (0.5 + 0.5 * self.jitter())

    def failed(self, now: float) -> float:
        """Count a failure; returns how long the broker is left alone."""
        self.failures += 1
        wait = self.delay()
        self.retry_at = now + wait
        return wait

    def succeeded(self) -> None:
        self.failures = 0
        self.retry_at = 0.0


def split_probation(
    brokers: Iterable[Broker], backoffs: Mapping[Broker, Backoff]
) -> tuple[list[Broker], list[Broker]]:
    """(healthy, on probation): the brokers that last confirmed, and those that last failed.

    The healthy ones get full batches. Each broker on probation gets a probe of
    one event, claimed in a transaction of its own: a broker half down (Kafka
    stopping, or electing leaders after a start) can hold a batch until its
    timeout, and the healthy broker's events must not wait in the same
    transaction. One event also keeps what a timed-out attempt leaves in a
    client's buffers (aiokafka's accumulator, written when the broker
    returns, then sent again by the relay) to one copy.
    """
    healthy = [b for b in BROKERS if b in set(brokers) and not backoffs[b].failures]
    probing = [b for b in BROKERS if b in set(brokers) and backoffs[b].failures]
    return healthy, probing


PROBE_TIMEOUT_S = 1.0  # enough for a broker that is back to confirm one event


def attempt_timeout(backoff: Backoff, timeout_s: float) -> float:
    """How long a broker may take: the full timeout, or a probe's while it is on probation.

    Both brokers' batches share one transaction: a probe that waited the full
    timeout for a broker still down would hold the other broker's events that long.
    """
    return min(timeout_s, PROBE_TIMEOUT_S) if backoff.failures else timeout_s


def ready_brokers(backoffs: Mapping[Broker, Backoff], now: float) -> list[Broker]:
    """The brokers whose backoff has expired, in BROKERS order."""
    return [broker for broker in BROKERS if backoffs[broker].ready(now)]


def idle_wait(backoffs: Mapping[Broker, Backoff], now: float, poll_s: float) -> float:
    """How long to sleep with nothing to do: the poll interval, or less if a backoff ends first."""
    waiting = [b.retry_at - now for b in backoffs.values() if not b.ready(now)]
    return max(0.0, min([poll_s, *waiting]))
