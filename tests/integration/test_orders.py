"""Orders as resources on the real stack: PostgreSQL, the api through nginx, the brokers.

No mocks: the rows are read back from PostgreSQL (`psql` in its container), the
roles' privileges are asked of PostgreSQL itself, a statement is really cut by
statement_timeout behind a real lock, and the database is really stopped.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from comms_sandbox import REPO, docker
from comms_sandbox.compose import compose, compose_env

ORDER = {"customer_id": "C-001", "sequence": 1, "amount_cents": 1999}


def psql(sql: str, user: str = "postgres") -> subprocess.CompletedProcess[str]:
    """Run SQL in the postgres container (its socket, or 127.0.0.1 for the other roles,
    which the images' pg_hba.conf trusts inside the container only)."""
    host = [] if user == "postgres" else ["-h", "127.0.0.1"]
    return compose("exec", "-T", "postgres", "psql", "-U", user, *host, "-d", "sandbox",
                   "-v", "ON_ERROR_STOP=1", "-Atc", sql, capture=True, timeout=60)  # fmt: skip


def value(sql: str, user: str = "postgres") -> str:
    result = psql(sql, user)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def new_customer() -> str:
    return f"C-{random.randrange(10**7, 10**8)}"


def place(proxy: httpx.Client, key: str | None = None, **changes: object) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return proxy.post("/orders", json={**ORDER, **changes}, headers=headers)


@pytest.fixture
def order(proxy: httpx.Client) -> dict[str, object]:
    response = place(proxy, customer_id=new_customer())
    assert response.status_code == 201, response.text
    return response.json()


def test_post_stores_the_order_and_its_event_in_one_transaction(proxy: httpx.Client) -> None:
    key = str(uuid.uuid4())
    response = place(proxy, key)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/orders/{body['order_id']}"
    assert response.headers["etag"] == '"v1"'
    assert body["event_id"] == key  # a UUID key is the event id, as before
    # The default path: the api only commits, the outbox relay publishes (ORDERS_PUBLISH).
    assert body["published"] == {"outbox": "committed: the relay publishes it"}
    assert (body["status"], body["version"]) == ("placed", 1)
    row = value(f"SELECT customer_id, amount_cents, status FROM sandbox.orders "
                f"WHERE id = '{body['order_id']}'")  # fmt: skip
    assert row == "C-001|1999|placed"
    # The outbox row holds the event as the brokers got it; the relay marks it once
    # both confirmed, milliseconds after the commit (woken by NOTIFY).
    sql = (f"SELECT event_type, payload->>'event_id', "
           f"rabbitmq_published_at IS NOT NULL AND kafka_published_at IS NOT NULL "
           f"FROM sandbox.outbox WHERE aggregate_id = '{body['order_id']}'")  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        outbox = value(sql)
        if outbox.endswith("|t") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert outbox == f"OrderPlaced|{key}|t"  # and nothing is half-written: see the 504 test


def test_get_answers_the_order_with_its_etag_and_304_when_unchanged(
    proxy: httpx.Client, order: dict[str, object]
) -> None:
    url = f"/orders/{order['order_id']}"
    response = proxy.get(url)
    assert response.status_code == 200
    assert response.headers["etag"] == '"v1"' and response.json()["order_id"] == order["order_id"]
    assert proxy.get(url, headers={"If-None-Match": '"v1"'}).status_code == 304
    assert proxy.get(url, headers={"If-None-Match": 'W/"v1"'}).status_code == 304  # weak compare
    assert proxy.get(url, headers={"If-None-Match": '"v0"'}).status_code == 200
    assert proxy.get(url, headers={"If-None-Match": "v1"}).status_code == 200  # malformed: holds


@pytest.mark.parametrize(
    "order_id", ["O-000000000000", "O-ZZZZZZZZZZZZ", "nope", "O-1'; DROP TABLE orders;--"]
)
def test_unknown_ids_are_404(proxy: httpx.Client, order_id: str) -> None:
    for method in ("GET", "DELETE"):
        response = proxy.request(method, f"/orders/{order_id}", headers={"If-Match": '"v1"'})
        assert response.status_code == 404, (method, response.text)
    assert value("SELECT count(*) > 0 FROM sandbox.orders") == "t"  # still there


def test_put_requires_if_match_and_the_same_put_twice_keeps_the_same_etag(
    proxy: httpx.Client, order: dict[str, object]
) -> None:
    url, paid = f"/orders/{order['order_id']}", {"amount_cents": 2500, "status": "paid"}
    missing = proxy.put(url, json=paid)
    assert missing.status_code == 428 and "If-Match" in missing.json()["detail"]
    first = proxy.put(url, json=paid, headers={"If-Match": '"v1"'})
    assert first.status_code == 200 and first.headers["etag"] == '"v2"'
    again = proxy.put(url, json=paid, headers={"If-Match": '"v1"'})  # the retry of a lost answer
    assert again.status_code == 200 and again.headers["etag"] == '"v2"'
    assert again.json() == first.json()
    assert value(f"SELECT version, status FROM sandbox.orders WHERE id = '{order['order_id']}'") \
        == "2|paid"  # fmt: skip


PAID = {"amount_cents": 1999, "status": "paid"}


@pytest.mark.parametrize(
    ("if_match", "change", "refusal"),
    [
        ('"v0"', PAID, (412, "does not match")),
        ("v1", PAID, (412, "malformed")),
        ('W/"v1"', PAID, (412, "does not match")),  # If-Match compares strongly
        ('"v1"', {**PAID, "status": "shipped"}, (409, "next: paid")),
    ],
)
def test_stale_malformed_and_disallowed_writes_are_refused_with_a_reason(
    proxy: httpx.Client,
    order: dict[str, object],
    if_match: str,
    change: dict[str, object],
    refusal: tuple[int, str],
) -> None:
    url = f"/orders/{order['order_id']}"
    response = proxy.put(url, json=change, headers={"If-Match": if_match})
    assert response.status_code == refusal[0] and refusal[1] in response.json()["detail"]
    assert value(f"SELECT version FROM sandbox.orders WHERE id = '{order['order_id']}'") == "1"


def test_delete_cancels_and_the_order_is_gone_for_good(
    proxy: httpx.Client, order: dict[str, object]
) -> None:
    url = f"/orders/{order['order_id']}"
    assert proxy.delete(url).status_code == 428
    assert proxy.delete(url, headers={"If-Match": '"v0"'}).status_code == 412
    assert proxy.delete(url, headers={"If-Match": '"v1"'}).status_code == 204
    gone = proxy.get(url)
    assert gone.status_code == 410 and "cancelled" in gone.json()["detail"]
    assert proxy.delete(url, headers={"If-Match": '"v1"'}).status_code == 204  # still cancelled
    assert proxy.put(url, json={"amount_cents": 1, "status": "placed"},
                     headers={"If-Match": '"v2"'}).status_code == 410  # fmt: skip
    assert (
        value(f"SELECT status FROM sandbox.orders WHERE id = '{order['order_id']}'") == "cancelled"
    )
    listed = proxy.get("/orders", params={"customer_id": order["customer_id"]}).json()
    assert listed["orders"] == []


def test_keyset_pages_cover_every_order_once_newest_first(proxy: httpx.Client) -> None:
    customer = new_customer()
    placed = [
        place(proxy, customer_id=customer, sequence=n).json()["order_id"] for n in range(1, 6)
    ]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"customer_id": customer, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = proxy.get("/orders", params=params)
        assert page.status_code == 200, page.text
        seen += [o["order_id"] for o in page.json()["orders"]]
        cursor, pages = page.json()["next_cursor"], pages + 1
        assert ("link" in page.headers) == (cursor is not None)
        if cursor is None:
            break
    assert seen == list(reversed(placed)) and pages == 3


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"cursor": "not-a-cursor"}, 400),
        ({"cursor": "eyJ2IjoxfQ"}, 400),  # base64url of {"v":1}: not one we gave out
        ({"limit": 101}, 422),
        ({"limit": 0}, 422),
        ({"customer_id": "C-1' OR '1'='1"}, 422),
    ],
)
def test_bad_listing_parameters_are_refused(
    proxy: httpx.Client, params: dict[str, object], status: int
) -> None:
    response = proxy.get("/orders", params={"customer_id": "C-001", **params})
    assert response.status_code == status and response.json()["detail"]


def test_a_cursor_of_another_customer_is_refused(proxy: httpx.Client) -> None:
    customer = new_customer()
    for n in (1, 2):
        place(proxy, customer_id=customer, sequence=n)
    cursor = proxy.get("/orders", params={"customer_id": customer, "limit": 1}).json()
    response = proxy.get(
        "/orders", params={"customer_id": "C-001", "cursor": cursor["next_cursor"]}
    )
    assert response.status_code == 400 and "another customer" in response.json()["detail"]


def test_the_same_key_replays_the_first_answer_and_stores_one_order(proxy: httpx.Client) -> None:
    key, customer = f'"{uuid.uuid4().hex}"', new_customer()  # an sf-string, not a UUID
    first = place(proxy, key, customer_id=customer)
    again = place(proxy, key, customer_id=customer)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["etag"] == first.headers["etag"]
    assert value(f"SELECT count(*) FROM sandbox.orders WHERE customer_id = '{customer}'") == "1"
    other = place(proxy, key, customer_id=customer, amount_cents=5)
    assert other.status_code == 422 and "another request body" in other.json()["detail"]


def test_keys_expire_and_are_purged_by_the_api() -> None:
    # The bound on storage: every key has an expiry a day out, indexed for the purge.
    assert value("SELECT count(*) FROM sandbox.idempotency_keys "
                 "WHERE expires_at > now() + interval '25 hours'") == "0"  # fmt: skip
    assert value("SELECT indexdef LIKE '%(expires_at)%' FROM pg_indexes "
                 "WHERE indexname = 'idempotency_keys_expiry'") == "t"  # fmt: skip


# Long enough for the test's three requests, each cut at the api's 1.5 s statement_timeout,
# on a busy machine: with 4 s, a CI run's read came after the lock was gone (200, not 504).
LOCK_HELD_S = 8


@pytest.fixture
def orders_locked() -> Iterator[None]:
    """An ACCESS EXCLUSIVE lock on sandbox.orders for LOCK_HELD_S (a migration or a vacuum full
    would take one): every statement on the table waits behind it."""
    session = subprocess.Popen(
        ["docker", "compose", "exec", "-T", "postgres", "psql", "-U", "postgres", "-d",
         "sandbox", "-c", "SET statement_timeout = 0; BEGIN; "
         f"LOCK TABLE sandbox.orders IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({LOCK_HELD_S});"
         " COMMIT;"],
        cwd=REPO, env=compose_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    held = ("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE c.relname = 'orders' AND l.mode = 'AccessExclusiveLock'")  # fmt: skip
    deadline = time.monotonic() + 10
    while value(held) != "1":
        assert time.monotonic() < deadline, "the lock was never taken"
        time.sleep(0.1)
    yield
    session.wait(timeout=30)


def test_a_statement_cut_by_statement_timeout_is_a_504_and_a_key_in_flight_a_409(
    proxy: httpx.Client, order: dict[str, object], orders_locked: None
) -> None:
    key, answers = str(uuid.uuid4()), {}

    def first() -> None:
        answers["first"] = place(proxy, key, customer_id=order["customer_id"], sequence=2)

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(0.5)  # the first request holds the key and waits behind the lock
    second = place(proxy, key, customer_id=order["customer_id"], sequence=2)
    started = time.monotonic()
    read = proxy.get(f"/orders/{order['order_id']}")
    waited = time.monotonic() - started
    thread.join(timeout=20)
    assert second.status_code == 409 and "in flight" in second.json()["detail"]
    assert read.status_code == 504 and "57014" in read.json()["detail"]
    assert 1.0 < waited < 2.5  # the api's 1.5 s statement_timeout, before nginx's 2.5 s
    assert answers["first"].status_code == 504
    # Rolled back whole: neither the order nor its outbox row exists (nothing half-written).
    stored = value(f"SELECT (SELECT count(*) FROM sandbox.orders WHERE customer_id = "
                   f"'{order['customer_id']}' AND sequence = 2), (SELECT count(*) FROM "
                   f"sandbox.outbox WHERE event_id = '{key}')")  # fmt: skip
    assert stored == "0|0"
    time.sleep(4)  # the lock is gone; the key was let go: the retry is a first request
    retry = place(proxy, key, customer_id=order["customer_id"], sequence=2)
    assert retry.status_code == 201 and "idempotent-replayed" not in retry.headers


def test_the_server_cuts_any_long_statement_at_its_statement_timeout() -> None:
    assert value("SHOW statement_timeout", user="sandbox_api") == "5s"
    started = time.monotonic()
    result = psql("SELECT pg_sleep(30)", user="sandbox_api")
    assert result.returncode != 0 and "statement timeout" in result.stderr
    assert time.monotonic() - started < 15


def test_the_api_role_may_use_rows_and_nothing_more() -> None:
    attributes = "rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolconnlimit"
    assert value(f"SELECT {attributes} FROM pg_roles WHERE rolname = 'sandbox_api'") \
        == "f|f|f|f|40"  # fmt: skip
    assert value("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = 'sandbox_owner'") \
        == "f|f"  # fmt: skip
    rows = "SELECT, INSERT, UPDATE, DELETE"
    checks = {
        f"has_table_privilege('sandbox_api', 'sandbox.orders', '{rows}')": "t",
        f"has_table_privilege('sandbox_api', 'sandbox.outbox', '{rows}')": "t",
        "has_table_privilege('sandbox_api', 'sandbox.orders', 'TRUNCATE')": "f",
        "has_table_privilege('sandbox_api', 'sandbox.alembic_version', 'SELECT')": "f",
        "has_schema_privilege('sandbox_api', 'sandbox', 'CREATE')": "f",
        "has_schema_privilege('sandbox_api', 'public', 'CREATE')": "f",
        "has_database_privilege('sandbox_api', 'sandbox', 'CREATE')": "f",
        "has_table_privilege('sandbox_relay', 'sandbox.outbox', 'SELECT, UPDATE')": "t",
        "has_table_privilege('sandbox_relay', 'sandbox.outbox', 'INSERT')": "f",
        "has_table_privilege('sandbox_relay', 'sandbox.orders', 'SELECT')": "f",
        "(SELECT tableowner FROM pg_tables WHERE tablename = 'orders') = 'sandbox_owner'": "t",
    }
    for check, expected in checks.items():
        assert value(f"SELECT {check}") == expected, check
    for statement in ("CREATE TABLE sandbox.mine (i int)", "CREATE TABLE public.mine (i int)",
                      "DROP TABLE sandbox.orders", "TRUNCATE sandbox.orders"):  # fmt: skip
        refused = psql(statement, user="sandbox_api")
        assert refused.returncode != 0, statement
        assert "permission denied" in refused.stderr or "must be owner" in refused.stderr


def test_the_superuser_cannot_log_in_over_the_network() -> None:
    attempt = compose("exec", "-T", "api", "python", "-c",
                      "import psycopg; psycopg.connect('postgresql://postgres:"
                      "sandbox-postgres-dev@postgres/sandbox', connect_timeout=5)",
                      capture=True, timeout=60)  # fmt: skip
    assert attempt.returncode != 0 and "pg_hba.conf rejects" in attempt.stderr


def test_the_database_stopped_is_a_503_with_a_reason_and_the_api_recovers(
    proxy: httpx.Client, order: dict[str, object]
) -> None:
    (postgres,) = docker.containers("postgres")
    docker.stop(postgres.name, grace_s=10)
    try:
        started = time.monotonic()
        down = proxy.get(f"/orders/{order['order_id']}")
        placed = place(proxy, customer_id=order["customer_id"], sequence=9)
        assert down.status_code == 503 and down.json()["detail"].startswith("database")
        assert down.headers["retry-after"] == "1"
        assert placed.status_code == 503 and placed.json()["detail"].startswith("database")
        assert time.monotonic() - started < 5  # answered promptly, not held
    finally:
        docker.start(postgres.name)
    deadline, answer = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        answer = proxy.get(f"/orders/{order['order_id']}")
        if answer.status_code == 200:
            break
        assert answer.status_code == 503, answer.text  # never a 500 meanwhile
        time.sleep(0.5)
    assert answer is not None and answer.status_code == 200
    # Every replica recovered, not only the one that answered first.
    replicas = {proxy.get(f"/orders/{order['order_id']}").headers["x-served-by"] for _ in range(12)}
    assert len(replicas) == 3
    assert all(proxy.get(f"/orders/{order['order_id']}").status_code == 200 for _ in range(12))
