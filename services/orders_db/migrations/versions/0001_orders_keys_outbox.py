"""Orders, idempotency keys and the transactional outbox.

Revision ID: 0001
Revises:
Create Date: 2026-12-06

Written as SQL rather than SQLAlchemy operations: this is what PostgreSQL runs,
and what a reader of the lesson should see. The api writes an order and its
OrderPlaced outbox row in one transaction (services/orders_db/orders.py); the
relay (its own service) reads the outbox and marks each row per broker.
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ORDERS = """
CREATE TABLE sandbox.orders (
    -- 'O-' and 12 hex digits, as order_events.model's OrderPlaced carries it.
    id           text PRIMARY KEY CONSTRAINT orders_id_format CHECK (id ~ '^O-[0-9a-f]{12}$'),
    customer_id  text NOT NULL
                 CONSTRAINT orders_customer_format CHECK (customer_id ~ '^C-[0-9]{3,8}$'),
    -- The customer's n-th order, as the client numbers them (subscribers check the order).
    sequence     integer NOT NULL CHECK (sequence >= 1),
    sku          text CHECK (char_length(sku) <= 32),
    quantity     integer NOT NULL DEFAULT 1 CHECK (quantity BETWEEN 1 AND 1000),
    amount_cents integer NOT NULL CHECK (amount_cents BETWEEN 1 AND 10000000),
    status       text NOT NULL DEFAULT 'placed'
                 CONSTRAINT orders_status_known
                 CHECK (status IN ('placed', 'paid', 'shipped', 'cancelled')),
    -- Bumped by every change; the ETag is made from it.
    version      integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- GET /orders?customer_id=...: keyset pagination, newest first, live orders only.
CREATE INDEX orders_by_customer ON sandbox.orders (customer_id, created_at DESC, id DESC)
    WHERE status <> 'cancelled';
"""

IDEMPOTENCY_KEYS = """
CREATE TABLE sandbox.idempotency_keys (
    key             text PRIMARY KEY CHECK (char_length(key) BETWEEN 1 AND 64),
    -- sha256 (hex) of the method, the path and the canonical JSON of the body.
    fingerprint     text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    state           text NOT NULL CHECK (state IN ('in_flight', 'done')),
    -- Set in the transaction that stored the order: a retry after a crash or a
    -- broker's refusal resumes with it instead of placing a second order. No
    -- foreign key: its check would lock sandbox.orders, and claiming a key must
    -- not wait behind a lock on the orders table (the 409 for a key in flight
    -- comes at once even then); the order and the link commit together anyway.
    order_id        text,
    -- The first answer, replayed to every retry once the key is done.
    response_status smallint CHECK (response_status BETWEEN 200 AND 599),
    response_body   jsonb CHECK (octet_length(response_body::text) <= 8192),
    -- A request holds the key until then; another one with the key meanwhile gets 409.
    locked_until    timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_done_has_response
        CHECK ((state = 'done') = (response_status IS NOT NULL AND response_body IS NOT NULL))
);
-- The purge deletes expired keys oldest first.
CREATE INDEX idempotency_keys_expiry ON sandbox.idempotency_keys (expires_at);
"""

OUTBOX = """
CREATE TABLE sandbox.outbox (
    event_id              uuid PRIMARY KEY,
    event_type            text NOT NULL,           -- 'OrderPlaced'
    aggregate_id          text NOT NULL,           -- the order's id
    payload               jsonb NOT NULL,          -- the event exactly as the brokers get it
    created_at            timestamptz NOT NULL DEFAULT now(),
    rabbitmq_published_at timestamptz,             -- set once the broker confirmed
    kafka_published_at    timestamptz
);
-- What still has to reach a broker, oldest first, and nothing else.
CREATE INDEX outbox_pending ON sandbox.outbox (created_at)
    WHERE rabbitmq_published_at IS NULL OR kafka_published_at IS NULL;
CREATE INDEX outbox_by_aggregate ON sandbox.outbox (aggregate_id);

-- Wakes the relay (LISTEN outbox): PostgreSQL delivers a notification when the
-- inserting transaction commits, and never for one that rolled back.
CREATE FUNCTION sandbox.outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', NEW.event_id::text);
    RETURN NEW;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON sandbox.outbox
    FOR EACH ROW EXECUTE FUNCTION sandbox.outbox_notify();
"""

GRANTS = """
-- The relay reads pending events and marks them sent: nothing else.
GRANT SELECT, UPDATE ON sandbox.outbox TO sandbox_relay;
-- The schema's default privileges gave the api rights on every table sandbox_owner
-- creates, Alembic's own bookkeeping table included: not that one.
REVOKE ALL ON sandbox.alembic_version FROM sandbox_api;
"""


def upgrade() -> None:
    for sql in (ORDERS, IDEMPOTENCY_KEYS, OUTBOX, GRANTS):
        op.execute(sql)


def downgrade() -> None:
    op.execute("DROP TABLE sandbox.outbox, sandbox.idempotency_keys, sandbox.orders")
    op.execute("DROP FUNCTION sandbox.outbox_notify()")
