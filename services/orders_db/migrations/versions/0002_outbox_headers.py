"""The outbox row carries its request's message headers: the request id and W3C trace context.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

The api writes them with the order (services/orders_db/orders.py); the relay
(services/outbox_relay/) publishes the event under that context, so the
consumers' spans and log lines join the request that placed the order, as
they did when the api published itself. A column with a constant default is
added without rewriting the table (PostgreSQL 11 and later).
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE sandbox.outbox ADD COLUMN headers jsonb NOT NULL DEFAULT '{}'::jsonb"
        " CONSTRAINT outbox_headers_small CHECK (octet_length(headers::text) <= 1024)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE sandbox.outbox DROP COLUMN headers")
