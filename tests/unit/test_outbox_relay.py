"""services/outbox_relay without a database or a broker: what it claims, publishes, marks, retries.

Each decision is fed the case where it would go wrong: a broker down (its
rows must not block the other broker's), an event not confirmed (never
marked), a customer's older event held by another relay (ours waits).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from aio_pika.exceptions import DeliveryError
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from outbox_relay import carry, plan
from outbox_relay import relay as relay_module
from outbox_relay.brokers import RabbitClient, chains_by_key
from outbox_relay.plan import Backoff, Row
from outbox_relay.relay import BatchResult, Relay
from outbox_relay.settings import Settings
from pamqp.commands import Basic
from pydantic import ValidationError
from telemetry import bound_request_id, current_request_id
from telemetry.links import context_headers

from order_events import rabbit
from order_events.model import OrderPlaced

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def row(
    customer: str = "C-001",
    seconds: float = 0,
    pending: tuple[plan.Broker, ...] = plan.BROKERS,
    event_type: str = "OrderPlaced",
    payload: dict[str, Any] | None = None,
) -> Row:
    event = OrderPlaced(
        order_id=f"O-{uuid4().hex[:12]}", customer_id=customer, sequence=1, amount_cents=500
    )
    return Row(
        event_id=event.event_id,
        event_type=event_type,
        aggregate_id=event.order_id,
        payload=payload if payload is not None else event.model_dump(mode="json"),
        created_at=T0 + timedelta(seconds=seconds),
        ordering_key=customer,
        pending=frozenset(pending),
    )


# --- claiming --------------------------------------------------------------------------


def test_the_claim_locks_the_oldest_pending_rows_and_skips_the_locked_ones() -> None:
    sql = plan.claim_sql(["rabbitmq", "kafka"])
    assert "WHERE rabbitmq_published_at IS NULL OR kafka_published_at IS NULL " in sql
    assert sql.endswith("ORDER BY created_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED")


def test_a_broker_in_backoff_is_left_out_of_the_claim() -> None:
    """Kafka down: a claim still asking for Kafka's rows would return them forever."""
    where = plan.claim_sql(["rabbitmq"]).split(" WHERE ", 1)[1]
    assert "kafka_published_at IS NULL" not in where
    assert where.startswith("rabbitmq_published_at IS NULL ORDER BY")


def test_the_claim_reads_each_brokers_state_whatever_it_claims_for() -> None:
    sql = plan.claim_sql(["kafka"])
    assert "rabbitmq_published_at IS NULL AS rabbitmq_pending" in sql
    assert "kafka_published_at IS NULL AS kafka_pending" in sql


def test_no_broker_means_no_claim() -> None:
    with pytest.raises(ValueError, match="no broker"):
        plan.claim_sql([])


def test_the_predicate_follows_the_brokers_order_not_the_callers() -> None:
    assert plan.pending_predicate(["kafka", "rabbitmq"]) == plan.pending_predicate(
        ["rabbitmq", "kafka"]
    )


@pytest.mark.parametrize("size", [0, -1, plan.MAX_BATCH + 1])
def test_a_batch_size_out_of_bounds_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="between 1 and"):
        plan.check_batch_size(size)
    with pytest.raises(ValidationError):
        Settings(database_url="x", rabbitmq_url="x", kafka_bootstrap="x", batch_size=size)


def test_a_row_knows_which_brokers_still_need_it() -> None:
    record = {
        "event_id": uuid4(), "event_type": "OrderPlaced", "aggregate_id": "O-1", "payload": {},
        "created_at": T0, "ordering_key": "C-001", "rabbitmq_pending": False, "kafka_pending": True,
    }  # fmt: skip
    assert Row.from_record(record).pending == {"kafka"}


# --- marking ---------------------------------------------------------------------------


def test_only_confirmed_events_are_marked() -> None:
    outcomes = {"a": None, "b": "not confirmed: connection lost", "c": None}
    assert plan.confirmed(outcomes) == ["a", "c"]
    assert plan.failed(["a", "b", "c"], outcomes)


def test_an_event_the_broker_never_answered_for_failed() -> None:
    """RabbitMQ stops at the first refusal: the events after it have no answer at all."""
    assert plan.failed(["a", "b"], {"a": None})
    assert plan.confirmed({"a": None}) == ["a"]


def test_a_batch_every_event_of_which_was_confirmed_did_not_fail() -> None:
    assert not plan.failed(["a", "b"], {"a": None, "b": None})


def test_the_mark_sets_one_brokers_column_only_where_still_empty() -> None:
    sql = plan.mark_sql("kafka")
    assert sql.startswith("UPDATE sandbox.outbox SET kafka_published_at = clock_timestamp()")
    assert "rabbitmq" not in sql
    assert sql.endswith("WHERE event_id = ANY(%(ids)s) AND kafka_published_at IS NULL")


# --- order across relays ---------------------------------------------------------------


def test_a_row_waits_when_its_customers_older_event_is_pending_elsewhere() -> None:
    mine = [row("C-001", seconds=2), row("C-002", seconds=3)]
    go, held = plan.split_held(mine, {"C-001": T0 + timedelta(seconds=1)})
    assert held == [mine[0]]
    assert go == [mine[1]]


def test_a_newer_event_elsewhere_holds_nothing_back() -> None:
    mine = [row("C-001", seconds=2)]
    go, held = plan.split_held(mine, {"C-001": T0 + timedelta(seconds=5)})
    assert (go, held) == (mine, [])


def test_the_held_back_query_looks_at_other_relays_rows_only() -> None:
    sql = plan.held_elsewhere_sql(["rabbitmq", "kafka"])
    assert "NOT (event_id = ANY(%(mine)s))" in sql
    assert "created_at < %(newest)s" in sql
    assert "FOR UPDATE" not in sql  # a plain read: it must see the rows others locked


# --- the message -----------------------------------------------------------------------


def test_an_order_placed_row_is_sent_byte_for_byte_as_the_dual_write_sends_it() -> None:
    r = row("C-042")
    event = OrderPlaced.model_validate(r.payload)
    m = plan.message(r)
    assert m.body == event.to_bytes()
    assert m.routing_key == rabbit.routing_key(event)
    assert (m.key, m.event_id) == ("C-042", str(event.event_id))


def test_a_row_the_model_refuses_raises_and_is_sent_as_stored() -> None:
    bad = row(payload={"type": "order.placed", "customer_id": "C-001", "amount_cents": -5})
    with pytest.raises(ValidationError):
        plan.message(bad)
    raw = plan.raw_message(bad)
    assert json.loads(raw.body) == dict(bad.payload)
    assert raw.routing_key == "order.placed.C-001"


# --- backoff ---------------------------------------------------------------------------


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(base_s=0.25, cap_s=2.0, jitter=lambda: 1.0)
    waits = [backoff.failed(now=0) for _ in range(6)]
    assert waits == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_backoff_jitter_takes_off_at_most_half() -> None:
    assert Backoff(base_s=1, failures=1, jitter=lambda: 0.0).delay() == 0.5


def test_a_broker_in_backoff_is_not_ready_until_its_time() -> None:
    backoff = Backoff(base_s=1.0, jitter=lambda: 1.0)
    backoff.failed(now=100.0)
    assert not backoff.ready(100.5)
    assert backoff.ready(101.0)


def test_a_success_resets_the_backoff() -> None:
    backoff = Backoff(jitter=lambda: 1.0)
    backoff.failed(now=0)
    backoff.failed(now=0)
    backoff.succeeded()
    assert (backoff.failures, backoff.delay(), backoff.ready(0)) == (0, 0.0, True)


def test_idle_wait_is_the_poll_unless_a_backoff_ends_sooner() -> None:
    backoffs = {b: Backoff(jitter=lambda: 1.0) for b in plan.BROKERS}
    assert plan.idle_wait(backoffs, now=0, poll_s=1.0) == 1.0
    backoffs["kafka"].retry_at = 0.3
    assert plan.idle_wait(backoffs, now=0, poll_s=1.0) == 0.3
    assert plan.ready_brokers(backoffs, now=0) == ["rabbitmq"]


# --- the relay's own bookkeeping, with fake broker clients -----------------------------


class FakeClient:
    def __init__(self, name: plan.Broker, refuse: set[str] | None = None) -> None:
        self.name = name
        self.refuse = refuse or set()
        self.batches: list[list[str]] = []
        self.timeouts: list[float] = []

    async def publish(self, messages: Sequence[plan.Message], timeout_s: float) -> plan.Outcomes:
        self.batches.append([m.event_id for m in messages])
        self.timeouts.append(timeout_s)
        return {m.event_id: ("refused" if m.event_id in self.refuse else None) for m in messages}

    async def close(self) -> None:
        return None


def relay(*clients: FakeClient) -> Relay:
    settings = Settings(database_url="x", rabbitmq_url="x", kafka_bootstrap="x")
    return Relay(settings, clients)  # type: ignore[arg-type]


def test_each_broker_gets_only_the_rows_it_has_not_confirmed_in_order() -> None:
    rabbitmq, kafka = FakeClient("rabbitmq"), FakeClient("kafka")
    rows = [row(seconds=1, pending=("kafka",)), row(seconds=2), row(seconds=3)]
    asyncio.run(relay(rabbitmq, kafka).publish(rows, ["rabbitmq", "kafka"]))
    ids = [str(r.event_id) for r in rows]
    assert rabbitmq.batches == [ids[1:]]
    assert kafka.batches == [ids]


def test_a_broker_left_out_gets_nothing() -> None:
    rabbitmq, kafka = FakeClient("rabbitmq"), FakeClient("kafka")
    outcomes = asyncio.run(relay(rabbitmq, kafka).publish([row()], ["rabbitmq"]))
    assert (list(outcomes), kafka.batches) == (["rabbitmq"], [])


def test_a_broker_on_probation_is_probed_apart_from_the_healthy_one() -> None:
    """Kafka failed: its probe must not hold RabbitMQ's batch in the same transaction."""
    backoffs = {b: Backoff(jitter=lambda: 1.0) for b in plan.BROKERS}
    backoffs["kafka"].failed(now=0)
    assert plan.split_probation(["rabbitmq", "kafka"], backoffs) == (["rabbitmq"], ["kafka"])
    assert plan.split_probation(["kafka"], backoffs) == ([], ["kafka"])
    backoffs["kafka"].succeeded()
    assert plan.split_probation(["kafka", "rabbitmq"], backoffs) == (["rabbitmq", "kafka"], [])


def test_a_probe_gets_the_short_timeout() -> None:
    rabbitmq, kafka = FakeClient("rabbitmq"), FakeClient("kafka")
    r = relay(rabbitmq, kafka)
    r.backoffs["kafka"].failed(now=0)
    asyncio.run(r.publish([row()], ["rabbitmq", "kafka"]))
    assert (kafka.timeouts, rabbitmq.timeouts) == ([plan.PROBE_TIMEOUT_S], [3.0])


def test_a_failed_broker_backs_off_and_the_other_does_not() -> None:
    r = relay(FakeClient("rabbitmq"), FakeClient("kafka"))
    r.note(BatchResult(claimed=3, sent={"rabbitmq": 3, "kafka": 3}, failed={"kafka"}))
    assert not r.backoffs["kafka"].ready(r.backoffs["kafka"].retry_at - 0.01)
    assert r.backoffs["rabbitmq"].failures == 0
    r.note(BatchResult(claimed=1, sent={"kafka": 1}))
    assert r.backoffs["kafka"].failures == 0


def test_event_ids_are_uuids_for_the_mark() -> None:
    """The mark's ANY(%(ids)s) compares with a uuid column: the ids must stay parseable."""
    m = plan.message(row())
    assert isinstance(UUID(m.event_id), UUID)


def test_a_probe_waits_less_than_a_batch() -> None:
    """A broker still down must not hold the other broker's events for the full timeout."""
    backoff = Backoff(jitter=lambda: 1.0)
    assert plan.attempt_timeout(backoff, 5.0) == 5.0
    backoff.failed(now=0)
    assert plan.attempt_timeout(backoff, 5.0) == plan.PROBE_TIMEOUT_S < 5.0
    assert plan.attempt_timeout(backoff, 0.5) == 0.5


def test_with_the_dual_write_the_relay_publishes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """ORDERS_PUBLISH=dual-write: the api publishes; a relay publishing too would double it."""
    monkeypatch.setattr(relay_module, "beat", lambda: None)  # no heartbeat file on the host
    rabbitmq, kafka = FakeClient("rabbitmq"), FakeClient("kafka")
    settings = Settings(
        database_url="postgresql://nowhere.invalid/x", rabbitmq_url="x", kafka_bootstrap="x",
        orders_publish="dual-write", poll_s=0.01,
    )  # fmt: skip
    r = Relay(settings, [rabbitmq, kafka])  # type: ignore[list-item]

    async def briefly() -> None:
        asyncio.get_running_loop().call_later(0.05, r.stop)
        await r.stand_by()

    asyncio.run(briefly())
    assert (rabbitmq.batches, kafka.batches) == ([], [])


# --- carrying the request: request id and trace context --------------------------------

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def carried_message(**headers: str) -> plan.Message:
    return plan.Message("e-1", b"{}", "C-001", "order.placed.C-001", headers=headers)


def test_the_api_stores_the_request_id_and_its_span_as_headers() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("POST /orders") as span, bound_request_id("req-1"):
        headers = context_headers()
    context = span.get_span_context()
    assert headers["x-request-id"] == "req-1"
    trace_id, span_id = headers["traceparent"].split("-")[1:3]
    assert (trace_id, span_id) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert context_headers() == {}  # no request, no span: nothing to carry


def test_an_event_is_published_under_the_request_that_stored_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(carry, "tracer", TracerProvider().get_tracer("test"))
    message = carried_message(traceparent=TRACEPARENT, **{"x-request-id": "req-7"})
    with carry.sent_under(message, "kafka"):
        span = trace.get_current_span()
        assert current_request_id.get() == "req-7"  # what the publishers put in the headers
    assert current_request_id.get() == ""
    assert f"{span.parent.span_id:016x}" == "b7ad6b7169203331"  # the api's span
    (link,) = span.links
    assert link.context.span_id == span.parent.span_id
    assert span.attributes["request.id"] == "req-7"
    assert carry.amqp_headers(message) == {"x-request-id": "req-7"}


def test_an_event_stored_without_a_request_gets_none_invented(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(carry, "tracer", TracerProvider().get_tracer("test"))
    with carry.sent_under(carried_message(), "rabbitmq"):
        span = trace.get_current_span()
        assert current_request_id.get() == ""
    assert (span.parent, list(span.links)) == (None, [])
    assert carry.amqp_headers(carried_message()) is None


def test_the_claim_reads_the_stored_headers() -> None:
    assert "headers" in plan.claim_sql(["kafka"]).split(" FROM ")[0]
    record = {
        "event_id": uuid4(), "event_type": "OrderPlaced", "aggregate_id": "O-1", "payload": {},
        "created_at": T0, "ordering_key": "C-001", "rabbitmq_pending": True,
        "kafka_pending": True, "headers": {"x-request-id": "req-1"},
    }  # fmt: skip
    assert plan.message(row(payload=None)).headers == {}
    assert Row.from_record(record).headers == {"x-request-id": "req-1"}


# --- RabbitMQ: chains per customer, confirms in flight together ----------------------------


class RefusingExchange:
    """Stands in for aio-pika's exchange: records the order of publishes, refuses some ids.

    Each publish yields to the loop before its confirm, as a real one waits
    for the broker: the chains interleave, and a chain that sent its next
    event before the confirm of the last would show it in `log`.
    """

    def __init__(self, refuse: set[str] = frozenset()) -> None:
        self.refuse = refuse
        self.log: list[str] = []
        self.in_flight: dict[str, int] = {}

    async def publish(self, message: Any, routing_key: str, **_kwargs: Any) -> None:
        key = routing_key.rsplit(".", 1)[-1]
        assert self.in_flight.get(key, 0) == 0, f"{key} sent before its last was confirmed"
        self.in_flight[key] = 1
        self.log.append(message.message_id)
        await asyncio.sleep(0)
        self.in_flight[key] = 0
        if message.message_id in self.refuse:
            raise rabbit_nack()


def rabbit_nack(delivery_tag: int = 1) -> Exception:
    """What aio-pika raises when the broker nacks a publish."""
    return DeliveryError(None, Basic.Nack(delivery_tag=delivery_tag))


def rabbit_client_with(exchange: RefusingExchange) -> RabbitClient:
    client = RabbitClient("amqp://unused")

    async def connected(_timeout_s: float) -> RefusingExchange:
        return exchange

    client._connected = connected  # type: ignore[method-assign]
    return client


def messages(*pairs: tuple[str, str]) -> list[plan.Message]:
    return [
        plan.Message(event_id=e, body=b"{}", key=c, routing_key=f"order.placed.{c}")
        for c, e in pairs
    ]


def test_each_customers_events_are_a_chain_in_the_batchs_order() -> None:
    batch = messages(("A", "a1"), ("B", "b1"), ("A", "a2"), ("B", "b2"), ("A", "a3"))
    chains = [[m.event_id for m in chain] for chain in chains_by_key(batch)]
    assert chains == [["a1", "a2", "a3"], ["b1", "b2"]]


def test_chains_are_in_flight_together_each_waiting_for_its_own_confirm() -> None:
    exchange = RefusingExchange()
    batch = messages(("A", "a1"), ("A", "a2"), ("B", "b1"), ("B", "b2"))
    outcomes = asyncio.run(rabbit_client_with(exchange).publish(batch, timeout_s=1))
    assert outcomes == {"a1": None, "a2": None, "b1": None, "b2": None}
    # Interleaved: b1 went out before a1 was confirmed; a2 only after a1's confirm.
    assert exchange.log == ["a1", "b1", "a2", "b2"]


def test_a_refusal_ends_its_customers_chain_and_no_other() -> None:
    exchange = RefusingExchange(refuse={"a1"})
    batch = messages(("A", "a1"), ("A", "a2"), ("B", "b1"), ("B", "b2"))
    outcomes = asyncio.run(rabbit_client_with(exchange).publish(batch, timeout_s=1))
    assert "a2" not in exchange.log  # never sent: it would have overtaken a1
    assert outcomes["a1"] is not None and "a2" not in outcomes
    assert plan.confirmed(outcomes) == ["b1", "b2"]
    assert plan.failed(["a1", "a2", "b1", "b2"], outcomes)
