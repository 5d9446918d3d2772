"""The statements on idempotency keys (sandbox.idempotency_keys).

A key is claimed (in_flight, held until locked_until), then tied to the order
stored under it, then done with the first answer, which later retries get
back. What a retry gets is decided by api/idempotency.py from what lock()
returns; this module only reads and writes rows, in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class StoredKey:
    """A key's row, with the database's own clock applied (expired, locked)."""

    fingerprint: str
    done: bool
    expired: bool  # past expires_at: as good as absent
    locked: bool  # before locked_until: a request holds it
    order_id: str | None
    response_status: int | None
    response_body: dict[str, Any] | None


async def lock(conn: AsyncConnection[Any], key: str) -> StoredKey | None:
    """The key's row, locked until the transaction ends, or None."""
    async with conn.cursor(row_factory=class_row(StoredKey)) as cur:
        await cur.execute(
            "SELECT fingerprint, state = 'done' AS done, expires_at <= now() AS expired,"
            " locked_until > now() AS locked, order_id, response_status, response_body"
            " FROM sandbox.idempotency_keys WHERE key = %s FOR UPDATE",
            (key,),
        )
        return await cur.fetchone()


async def claim(
    conn: AsyncConnection[Any], key: str, fingerprint: str, ttl_s: float, lease_s: float
) -> bool:
    """Take the key for a first request (an expired row counts as absent). False when
    another request took it first: it inserted between our lock() and this."""
    cur = await conn.execute(
        "INSERT INTO sandbox.idempotency_keys"
        " (key, fingerprint, state, locked_until, created_at, expires_at)"
        " VALUES (%(key)s, %(fp)s, 'in_flight', now() + make_interval(secs => %(lease)s), now(),"
        "         now() + make_interval(secs => %(ttl)s))"
        " ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
        "   state = 'in_flight', order_id = NULL, response_status = NULL, response_body = NULL,"
        "   locked_until = EXCLUDED.locked_until, created_at = EXCLUDED.created_at,"
        "   expires_at = EXCLUDED.expires_at"
        " WHERE sandbox.idempotency_keys.expires_at <= now()"
        " RETURNING key",
        {"key": key, "fp": fingerprint, "lease": lease_s, "ttl": ttl_s},
    )
    return await cur.fetchone() is not None


async def hold(conn: AsyncConnection[Any], key: str, lease_s: float) -> None:
    """Take over a key whose holder gave up or died (its lease ran out)."""
    await conn.execute(
        "UPDATE sandbox.idempotency_keys"
        " SET locked_until = now() + make_interval(secs => %s) WHERE key = %s",
        (lease_s, key),
    )


async def attach_order(conn: AsyncConnection[Any], key: str, order_id: str) -> None:
    """In the order's own transaction: from now on, a retry resumes this order."""
    await conn.execute(
        "UPDATE sandbox.idempotency_keys SET order_id = %s WHERE key = %s", (order_id, key)
    )


async def finish(conn: AsyncConnection[Any], key: str, status: int, body: dict[str, Any]) -> None:
    """The first answer, kept for the key's life and replayed to every retry."""
    await conn.execute(
        "UPDATE sandbox.idempotency_keys SET state = 'done', response_status = %s,"
        " response_body = %s, locked_until = now() WHERE key = %s",
        (status, Jsonb(body), key),
    )


async def release(conn: AsyncConnection[Any], key: str) -> None:
    """Let the next request with the key go on at once (it resumes the stored order)."""
    await conn.execute(
        "UPDATE sandbox.idempotency_keys SET locked_until = now()"
        " WHERE key = %s AND state = 'in_flight'",
        (key,),
    )


async def forget(conn: AsyncConnection[Any], key: str) -> None:
    """Nothing was stored under the key (pricing failed, say): as if it was never sent."""
    await conn.execute(
        "DELETE FROM sandbox.idempotency_keys"
        " WHERE key = %s AND state = 'in_flight' AND order_id IS NULL",
        (key,),
    )


async def purge_expired(conn: AsyncConnection[Any], limit: int) -> int:
    """Delete up to `limit` expired keys, oldest first; replicas purging at once skip
    each other's rows instead of waiting on them. Returns how many went."""
    cur = await conn.execute(
        "DELETE FROM sandbox.idempotency_keys WHERE key IN ("
        " SELECT key FROM sandbox.idempotency_keys WHERE expires_at <= now()"
        " ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED)",
        (limit,),
    )
    return cur.rowcount
