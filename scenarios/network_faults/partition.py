"""A partition: api-faults cannot reach RabbitMQ for a few seconds, then can again."""

from __future__ import annotations

import time
import uuid
from contextlib import AbstractContextManager
from typing import Any

from comms_sandbox import toxiproxy
from comms_sandbox.order_readers import RabbitSubscriber, kafka_start, read_kafka
from scenarios import narration
from scenarios.network_faults.client import fault, timed_post

DURING = 2  # orders sent while the fault lasts
# api-faults' publish timeout (API_PUBLISH_TIMEOUT_S, 5 s): a refused order is
# answered within it, plus the HTTP round trip, never left hanging.
ANSWERED_WITHIN_S = 5.0 + 1.0
CONVERGE_WITHIN_S = 30.0
AFTER = 3  # orders sent once one went through again
DELIVERY_WAIT_S = 5.0  # for the accepted orders' events to reach the subscriber
GRACE_S = 0.5


def order(sequence: int, customer: str = "C-5150") -> dict[str, Any]:
    return {"customer_id": customer, "sequence": sequence, "amount_cents": 500}


def run() -> dict[str, Any]:
    cut = fault("api-faults cut off from RabbitMQ", toxiproxy.partition("rabbitmq"))
    result = orders_under(cut, "partition")
    delivered = result.pop("delivered")
    result["holds"] = holds(
        result["during"], result["converged_s"], result["after"], result.pop("accepted_ids"),
        delivered=delivered,
    )  # fmt: skip
    return result


def orders_under(
    fault: AbstractContextManager[None], label: str, customer: str = "C-5150"
) -> dict[str, Any]:
    """Orders before, during and after `fault`; which accepted ones reached both brokers.

    `rabbitmq_event_ids` is every event of `customer` RabbitMQ carried meanwhile,
    accepted or not (an event of a refused order would be a half-done write)."""
    start = kafka_start()
    with RabbitSubscriber() as rabbit_side:
        warm = timed_post("/orders", order(1, customer), f"{label}-before")
        with fault, narration.waiting(f"{DURING} orders sent during the fault answered"):
            during = [timed_post("/orders", order(2 + n, customer), label) for n in range(DURING)]
        healed = time.monotonic()
        converged_s, first_ok = converge(healed, customer)
        after = [
            timed_post("/orders", order(10 + n, customer), f"{label}-after") for n in range(AFTER)
        ]
        accepted = accepted_event_ids([warm, *during, first_ok, *after])
        with narration.waiting("deliveries in flight", expected_s=1):
            ours = delivered_to(rabbit_side, customer, accepted)
    in_rabbitmq = ours & accepted
    with narration.waiting("the accepted orders' events read back from Kafka", expected_s=2):
        in_kafka = {str(e.event_id) for e in read_kafka(start, accepted)[0].events}
    narration.seen(f"{len(accepted)} orders accepted: {len(in_rabbitmq)} in RabbitMQ, "
                   f"{len(in_kafka)} in Kafka")  # fmt: skip
    return {
        "rabbitmq_event_ids": sorted(ours),
        "during": during,
        "converged_s": converged_s,
        "after": after,
        "accepted": len(accepted),
        "accepted_ids": accepted,
        "delivered": in_rabbitmq & in_kafka,
        "lost": {"rabbitmq": sorted(accepted - in_rabbitmq), "kafka": sorted(accepted - in_kafka)},
    }


def delivered_to(rabbit_side: RabbitSubscriber, customer: str, accepted: set[str]) -> set[str]:
    """The customer's events the subscriber got, once every accepted one is in (or
    DELIVERY_WAIT_S passed), and GRACE_S more: an event of a refused order, which must
    not exist, would have been published before the last accepted ones."""
    deadline = time.monotonic() + DELIVERY_WAIT_S

    def ours() -> set[str]:
        return {str(e.event_id) for e in list(rabbit_side.received.events)
                if e.customer_id == customer}  # fmt: skip

    while not accepted <= ours() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(GRACE_S)
    return ours()


def converge(healed: float, customer: str = "C-5150") -> tuple[float | None, dict[str, Any] | None]:
    """Seconds after the heal until an order is accepted again (None: not within the limit)."""
    with narration.waiting("an order accepted again, with no one acting", expected_s=1):
        while time.monotonic() - healed < CONVERGE_WITHIN_S:
            sequence = 100 + int(uuid.uuid4().int % 1000)
            call = timed_post("/orders", order(sequence, customer), "partition-heal")
            if call["status"] == 201:
                converged_s = round(time.monotonic() - healed, 2)
                narration.seen(f"orders accepted again {converged_s} s after the fault ended")
                return converged_s, call
            time.sleep(0.5)
    return None, None


def accepted_event_ids(calls: list[dict[str, Any] | None]) -> set[str]:
    """The event ids of the orders the api answered 201 to: those must never be lost."""
    return {
        call["answer"]["event_id"] for call in calls if call is not None and call["status"] == 201
    }


def holds(
    during: list[dict[str, Any]],
    converged_s: float | None,
    after: list[dict[str, Any]],
    accepted: set[str],
    *,
    delivered: set[str],
) -> dict[str, bool]:
    """503 naming the broker while cut off; accepted again after; every accepted order in both."""
    return {
        "503_naming_the_broker_while_cut_off": all(
            call["status"] == 503 and "rabbitmq" in str(call["answer"]) for call in during
        ),
        "503_within_the_publish_timeout": all(c["seconds"] <= ANSWERED_WITHIN_S for c in during),
        "converged_with_no_one_acting": converged_s is not None
        and all(call["status"] == 201 for call in after),
        "no_accepted_order_lost": bool(accepted) and accepted <= delivered,
    }
