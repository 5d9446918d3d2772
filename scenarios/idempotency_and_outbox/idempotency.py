"""Why idempotency keys matter, counted in PostgreSQL: an answer cut after the commit, then a retry.

The client talks to the api through the lesson's Toxiproxy (compose.yaml,
toxiproxy.json: 127.0.0.1:8087 -> api:8000). Each order the client means
to place once goes like this:

1. a `limit_data` toxic of 0 bytes on the proxy's downstream (the answers):
   the request reaches the api whole, the api stores the order and commits,
   and its answer is cut at its first byte: the client sees the connection
   close with no answer and cannot tell a lost request from a lost answer;
2. the toxic is removed and the client retries, as any client must.

Without an Idempotency-Key the retry is a new order: the rows in
sandbox.orders for the client's marker (a customer id of its own) count
the duplicates. With a key, the retry gets the first answer again, marked
`Idempotent-Replayed: true`, and one row exists. The same key with another
body gets 422; the same key while the first request is still in flight gets
409: the first request is held in flight by a SHARE lock on sandbox.orders
that a psql session holds (its INSERT waits, as behind a slow database),
and the others are sent once pg_locks shows it waiting; then the lock goes.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from comms_sandbox import docker, toxiproxy
from comms_sandbox.ports import HOST, ORDERS_CUT_API, ORDERS_TOXIPROXY
from scenarios import narration

from . import counting
from .outbox import order_id_of

PROXY = "api"  # toxiproxy.json's proxy in front of the api
CUT = "cut-the-answer"
# 0 bytes: the connection closes when the answer's first byte reaches the proxy, so the
# order is always committed (the api answers after its commit) and nothing of it arrives.
CUT_TOXIC = ("limit_data", {"bytes": 0})
ORDERS = 10  # orders per way (without a key, with one)
OTHER_BODIES = 5  # keys reused with another body
IN_FLIGHT_RETRIES = 5  # requests with the key while its first is held in flight
MAX_HOLD_S = 1.0  # below the api's statement_timeout (1.5 s): the held INSERT then succeeds
REPLAYED = "idempotent-replayed"


def cut_api_url() -> str:
    """The api through the lesson's Toxiproxy (plain HTTP, as nginx reaches the api)."""
    return f"http://{HOST}:{ORDERS_CUT_API.port}"


def answers() -> bool:
    return toxiproxy.answers(at=ORDERS_TOXIPROXY)


def new_key() -> str:
    return str(uuid.uuid4())


def order_body(customer: str, amount_cents: int = 1999) -> dict[str, Any]:
    return {"customer_id": customer, "sequence": 1, "amount_cents": amount_cents}


@dataclass(frozen=True)
class Attempt:
    status: int  # 0: no answer (the connection closed first)
    replayed: bool
    order_id: str | None
    error: str = ""


def attempt(http: httpx.Client, body: dict[str, Any], key: str | None) -> Attempt:
    """One POST /orders; a connection that closes without an answer is status 0."""
    headers = {"Idempotency-Key": key} if key else {}
    try:
        response = http.post("/orders", json=body, headers=headers)
    except httpx.TransportError as exc:
        return Attempt(0, False, None, type(exc).__name__)
    replayed = response.headers.get(REPLAYED, "").lower() == "true"
    return Attempt(response.status_code, replayed, order_id_of(response))


def cut_answer_then_retry(http: httpx.Client, customer: str, key: str | None) -> list[Attempt]:
    """One order meant once: its first answer cut after the commit, then one retry."""
    body = order_body(customer)
    kind, attributes = CUT_TOXIC
    with toxiproxy.toxic(PROXY, CUT, kind, attributes, at=ORDERS_TOXIPROXY):
        first = attempt(http, body, key)
    return [first, attempt(http, body, key)]


def rows_per_customer(customers: list[str]) -> dict[str, int]:
    """Rows in sandbox.orders per customer (every customer listed, 0 when none)."""
    text = counting.psql(
        "SELECT customer_id, count(*) FROM sandbox.orders"
        f" WHERE customer_id IN ({counting._sql_list(customers)}) GROUP BY customer_id"
    )
    found = dict(line.split("|") for line in text.splitlines() if "|" in line)
    return {customer: int(found.get(customer, 0)) for customer in customers}


def stored_ids(customers: list[str]) -> set[str]:
    return set(counting.stored_orders(customers))


def retries_after_a_cut(with_key: bool, orders: int = ORDERS) -> dict[str, Any]:
    """`orders` orders, each first answer cut, each retried once; counted in PostgreSQL."""
    customers = counting.new_customers(orders)
    keyed = "with an Idempotency-Key" if with_key else "without a key"
    narration.step(f"{orders} orders {keyed}: each first answer cut after the commit, "
                   "then retried once")  # fmt: skip
    with httpx.Client(base_url=cut_api_url(), timeout=10) as http:
        attempts = {c: cut_answer_then_retry(http, c, new_key() if with_key else None)
                    for c in customers}  # fmt: skip
    rows = rows_per_customer(customers)
    narration.seen(f"{keyed}: {sum(rows.values())} rows in PostgreSQL for {orders} orders "
                   f"meant once")  # fmt: skip
    flat = [a for tries in attempts.values() for a in tries]
    answered_ids = {a.order_id for a in flat if a.order_id}
    return {
        "idempotency_key": with_key,
        "orders_meant": orders,
        "attempts": len(flat),
        "cut": sum(a.status == 0 for a in flat),
        "cut_seen_as": dict(Counter(a.error for a in flat if a.status == 0)),  # httpx's error
        "answers": _statuses(flat),
        "replayed": sum(a.replayed for a in flat),
        "rows": sum(rows.values()),
        "rows_per_order": _histogram(rows.values()),
        "duplicates": sum(n - 1 for n in rows.values() if n > 1),
        # The retry's answer names a stored order (with a key: the one the cut answer was for).
        "answered_ids_stored": len(answered_ids & stored_ids(customers)),
    }


def other_body(count: int = OTHER_BODIES) -> dict[str, Any]:
    """A key used for one order, then sent again with another amount: 422, nothing stored."""
    customers = counting.new_customers(count)
    narration.step(f"{count} keys used once, then again with another amount")
    firsts, seconds = [], []
    with httpx.Client(base_url=cut_api_url(), timeout=10) as http:
        for customer in customers:
            key = new_key()
            firsts.append(attempt(http, order_body(customer), key))
            seconds.append(attempt(http, order_body(customer, amount_cents=2999), key))
    narration.seen(f"the same key with another body: {_statuses(seconds)}")
    return {
        "keys": count,
        "first_answers": _statuses(firsts),
        "other_body_answers": _statuses(seconds),
        "rows": sum(rows_per_customer(customers).values()),
    }


def while_in_flight(retries: int = IN_FLIGHT_RETRIES) -> dict[str, Any]:
    """The first request held in flight by a lock; `retries` more with its key meanwhile;
    then the key once more after it answered."""
    customer = counting.new_customers(1)
    key, body = new_key(), order_body(customer[0])
    narration.step(f"sandbox.orders locked; an order sent, then {retries} retries with its key "
                   "while it waits")  # fmt: skip
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=cut_api_url(), timeout=10) as http:
        with OrdersLocked() as lock:
            first = pool.submit(attempt, http, body, key)
            waiting = lock.wait_for_a_waiter()
            during = [attempt(http, body, key) for _ in range(retries)] if waiting else []
            held_s = lock.held_s()
        first_attempt = first.result()
        after = attempt(http, body, key)
    narration.seen(f"retries while in flight: {_statuses(during)}; the first: "
                   f"{first_attempt.status}; after it: {after.status}")  # fmt: skip
    return {
        "first_seen_waiting": waiting,
        "lock_held_s": round(held_s, 3),
        "first": asdict(first_attempt),
        "during_answers": _statuses(during),
        "after": asdict(after),
        "rows": sum(rows_per_customer(customer).values()),
    }


class OrdersLocked:
    """A psql session holding a SHARE lock on sandbox.orders: every INSERT waits for it.

    One session, fed line by line, both holds the lock and watches pg_locks, so a
    waiting INSERT is seen within milliseconds. It lets go at the end of the block,
    and at the latest after MAX_HOLD_S, under the api's statement_timeout (1.5 s), so
    the held request succeeds once it is let go.
    """

    def __enter__(self) -> OrdersLocked:
        container = docker.containers("postgres")[0].name
        self.psql = subprocess.Popen(
            ["docker", "exec", "-i", container, "psql", "-U", "postgres", "-d", counting.DATABASE,
             "-qAtX", "-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip
        if self.ask("BEGIN; LOCK TABLE sandbox.orders IN SHARE MODE; SELECT 'locked';") != "locked":
            self.__exit__()
            raise docker.DockerError("psql did not take the lock on sandbox.orders")
        self.since = time.monotonic()
        return self

    def ask(self, sql: str) -> str:
        """One statement's one-line answer."""
        assert self.psql.stdin is not None and self.psql.stdout is not None
        self.psql.stdin.write(sql + "\n")
        self.psql.stdin.flush()
        return self.psql.stdout.readline().strip()

    def wait_for_a_waiter(self) -> bool:
        """Until an INSERT waits for the lock (pg_locks: not granted); False past MAX_HOLD_S."""
        query = ("SELECT count(*) FROM pg_locks"
                 " WHERE relation = 'sandbox.orders'::regclass AND NOT granted;")  # fmt: skip
        while self.held_s() < MAX_HOLD_S:
            if int(self.ask(query) or 0) > 0:
                return True
            time.sleep(0.005)
        return False

    def held_s(self) -> float:
        return time.monotonic() - self.since

    def __exit__(self, *_: object) -> None:
        assert self.psql.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.psql.stdin.write("COMMIT;\n")
            self.psql.stdin.close()
        self.psql.wait(timeout=10)


def _statuses(attempts: list[Attempt]) -> dict[str, int]:
    """Answers by status ("0": none); replays of a first answer counted apart."""
    names = [f"{a.status} replayed" if a.replayed else str(a.status) for a in attempts]
    return dict(sorted(Counter(names).items()))


def _histogram(counts: Any) -> dict[str, int]:
    """How many orders meant once have 0, 1, 2... rows."""
    return {str(n): k for n, k in sorted(Counter(counts).items())}


def run() -> dict[str, Any]:
    """Every measurement of the part, and its verdicts, with no fault left behind."""
    with toxiproxy.clean(at=ORDERS_TOXIPROXY):
        m = {
            "without_key": retries_after_a_cut(with_key=False),
            "with_key": retries_after_a_cut(with_key=True),
            "other_body": other_body(),
            "in_flight": while_in_flight(),
        }
    m["left_configured"] = toxiproxy.leftovers(at=ORDERS_TOXIPROXY)
    m["holds"] = checks(m)
    return m


def checks(m: dict[str, Any]) -> dict[str, bool]:
    """What the part must show; each a function of its counts alone."""
    bare, keyed = m["without_key"], m["with_key"]
    other, flight = m["other_body"], m["in_flight"]
    return {
        "every order's first answer was cut (no answer reached the client)": all(
            run["cut"] == run["orders_meant"] > 0 for run in (bare, keyed)
        ),
        "without a key, every attempt was stored: the retries made duplicates": (
            bare["rows"] == bare["attempts"] and bare["duplicates"] > 0
        ),
        "with a key, exactly one order per order meant": (
            keyed["rows"] == keyed["orders_meant"] and keyed["rows_per_order"] == {
                "1": keyed["orders_meant"]}
        ),
        "with a key, each retry got the first answer, marked Idempotent-Replayed": (
            keyed["answers"].get("201 replayed") == keyed["replayed"] == keyed["orders_meant"]
            and keyed["answered_ids_stored"] == keyed["orders_meant"]
        ),
        "the same key with another body: 422, nothing more stored": (
            other["other_body_answers"] == {"422": other["keys"]} and other["rows"] == other["keys"]
        ),
        "the same key while its first request is in flight: 409, then one order": (
            flight["first_seen_waiting"] and flight["during_answers"] == {"409": IN_FLIGHT_RETRIES}
            and flight["first"]["status"] == 201 and flight["after"]["replayed"]
            and flight["rows"] == 1
        ),
        "no toxic left on the lesson's Toxiproxy": m["left_configured"] == [],
    }  # fmt: skip
