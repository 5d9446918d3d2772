"""A partition from the database: api-faults cannot reach PostgreSQL for a few seconds.

api-faults reaches PostgreSQL through Toxiproxy (proxy `postgres`); the part
disables that proxy, which closes the pool's connections and refuses new ones,
as a partition would. Orders sent meanwhile must be refused with a 503 that
names the database, within the pool's wait for a connection (1 s) plus the
round trip, never left hanging; nothing may be half-written: PostgreSQL holds
exactly the orders answered 201, each with its outbox row, and no broker
carried an event of an order that was refused (this api publishes itself,
after its commit). Once the path is back, orders go through again with no one
acting: the pool reconnects by itself.
"""

from __future__ import annotations

import random
from typing import Any

from comms_sandbox import outbox, toxiproxy
from scenarios import narration
from scenarios.network_faults.client import fault
from scenarios.network_faults.partition import orders_under

# api-faults' wait for a pooled connection (API_DATABASE_WAIT_S, 1 s), plus the round trip.
ANSWERED_WITHIN_S = 1.0 + 1.0


def run() -> dict[str, Any]:
    customer = f"C-{random.randrange(10**7, 10**8)}"  # no earlier run's orders to count
    cut = fault("api-faults cut off from PostgreSQL", toxiproxy.partition("postgres"))
    result = orders_under(cut, "database", customer=customer)
    accepted, delivered = result.pop("accepted_ids"), result.pop("delivered")
    result["customer"] = customer
    result["stored"] = stored(customer)
    held = result["stored"]
    narration.seen(f"PostgreSQL holds {len(held['event_ids'])} orders of {customer}, "
                   f"{held['orders_without_event']} without their outbox row")  # fmt: skip
    result["holds"] = holds(result, accepted, delivered)
    return result


def stored(customer: str) -> dict[str, Any]:
    """What PostgreSQL holds for `customer`: its orders' event ids, and orders with no event."""
    # The id matches ^C-[0-9]{8}$ (made above): safe inside the SQL text.
    rows = outbox.psql(
        "SELECT e.event_id FROM sandbox.outbox e JOIN sandbox.orders o ON o.id = e.aggregate_id "
        f"WHERE o.customer_id = '{customer}'"
    )
    orphans = outbox.psql(
        "SELECT count(*) FROM sandbox.orders o WHERE o.customer_id = "
        f"'{customer}' AND NOT EXISTS (SELECT 1 FROM sandbox.outbox e WHERE e.aggregate_id = o.id)"
    )
    return {"event_ids": sorted(rows.split()), "orders_without_event": int(orphans or 0)}


def holds(result: dict[str, Any], accepted: set[str], delivered: set[str]) -> dict[str, bool]:
    during, in_db = result["during"], set(result["stored"]["event_ids"])
    return {
        "503_naming_the_database_while_cut_off": bool(during)
        and all(call["status"] == 503 and "database" in str(call["answer"]) for call in during),
        "503_within_the_pool_wait": all(c["seconds"] <= ANSWERED_WITHIN_S for c in during),
        "stored_exactly_what_was_accepted": bool(accepted)
        and in_db == accepted
        and result["stored"]["orders_without_event"] == 0,
        "no_event_of_a_refused_order": set(result["rabbitmq_event_ids"]) <= in_db,
        "converged_with_no_one_acting": result["converged_s"] is not None
        and all(call["status"] == 201 for call in result["after"]),
        "no_accepted_order_lost": bool(accepted) and accepted <= delivered,
    }
