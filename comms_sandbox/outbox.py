"""The orders database's outbox, read from the host: how many events the relay still owes.

Read with psql inside the postgres container (the database has no port on the
host), as its superuser over the local socket.
"""

from __future__ import annotations

from comms_sandbox import docker

DATABASE = "sandbox"
PENDING = (
    "SELECT count(*) FROM sandbox.outbox "
    "WHERE rabbitmq_published_at IS NULL OR kafka_published_at IS NULL"
)


def psql(query: str) -> str:
    """One query in the postgres container, as its superuser over the local socket."""
    container = docker.containers("postgres")[0].name
    return docker.run_in(container, "psql", "-U", "postgres", "-d", DATABASE, "-AtX", "-c", query)


def pending_events() -> int:
    """Events stored that some broker has not confirmed yet (as the relay recorded it)."""
    return int(psql(PENDING).strip() or 0)
