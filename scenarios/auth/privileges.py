"""The auth lesson's least privilege: each service logs in to RabbitMQ and PostgreSQL as
its own identity, which may do what the service does and nothing else.

For each identity the run logs in with its password, as the service does, then tries
one thing the service never needs; the broker or the database refuses it, and its
own error code is the evidence (RabbitMQ's 403 ACCESS_REFUSED, PostgreSQL's SQLSTATE
42501 insufficient_privilege, or a login pg_hba.conf rejects).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions

from comms_sandbox import docker, ports
from comms_sandbox.credentials import RABBITMQ_USERS, setting
from scenarios.auth import verdicts

VHOST = "sandbox"
PROBE_QUEUE = "sandbox.auth.probe"  # never created: declaring it is the refused attempt


@dataclass(frozen=True)
class Attempt:
    identity: str
    used_by: str
    may: str
    tries: str
    expected: str  # the refusal: 403 (RabbitMQ), a SQLSTATE, or "login" (turned away)


# ---- RabbitMQ (broker/rabbitmq/definitions.json)

RABBITMQ = (
    Attempt("sandbox-api", "api", "publish to sandbox.events",
            "read the queue sandbox.orders.shipping", "403"),
    Attempt("sandbox-relay", "outbox-relay", "publish to sandbox.events",
            f"declare a queue ({PROBE_QUEUE})", "403"),
    Attempt("sandbox-shipping", "shipping", "consume sandbox.orders.shipping",
            "publish to sandbox.events", "403"),
    Attempt("sandbox-app", "the host's clients (scenarios, tests)",
            "publish and consume on sandbox.*, declare server-named queues",
            f"declare a named queue ({PROBE_QUEUE})", "403"),
)  # fmt: skip


def rabbitmq_try(attempt: Attempt) -> dict[str, Any]:
    """Log in as the identity; then its refused attempt. The broker closes the channel
    with its reply code and text."""
    password = setting(RABBITMQ_USERS[attempt.identity])
    parameters = pika.ConnectionParameters(
        host=ports.HOST, port=ports.AMQP.port, virtual_host=VHOST,
        credentials=pika.PlainCredentials(attempt.identity, password),
        connection_attempts=2, retry_delay=1, socket_timeout=5,
    )  # fmt: skip
    try:
        connection = pika.BlockingConnection(parameters)
    except pika.exceptions.AMQPConnectionError as error:  # refused login, or no broker
        return {"logged_in": False, "code": "", "answer": repr(error)[:200]}
    try:
        channel = connection.channel()
        try:
            forbidden(channel, attempt.identity)
        except pika.exceptions.ChannelClosedByBroker as closed:
            return {"logged_in": True, "code": str(closed.reply_code), "answer": closed.reply_text}
        return {"logged_in": True, "code": "", "answer": "allowed"}
    finally:
        if connection.is_open:
            connection.close()


def forbidden(channel: Any, identity: str) -> None:
    """Each identity's one thing it must not do."""
    if identity == "sandbox-api":
        channel.basic_get("sandbox.orders.shipping", auto_ack=False)
    elif identity == "sandbox-shipping":
        channel.confirm_delivery()
        channel.basic_publish("sandbox.events", "auth.probe", b"{}", mandatory=False)
    else:
        channel.queue_declare(PROBE_QUEUE, durable=True)


# ---- PostgreSQL (services/orders_db/initdb/10-roles.sh)

POSTGRES = (
    Attempt("sandbox_owner", "migrate", "create and change the schema's tables",
            "CREATE ROLE sneaky", "42501"),
    Attempt("sandbox_api", "api", "read and write rows of the schema's tables",
            "DROP TABLE sandbox.outbox", "42501"),
    Attempt("sandbox_relay", "outbox-relay", "read and mark rows of sandbox.outbox",
            "SELECT count(*) FROM sandbox.orders", "42501"),
    Attempt("postgres", "nobody over the network (its own socket only)", "everything",
            "SELECT 1, logged in over the network", "login"),
)  # fmt: skip
POSTGRES_PASSWORDS = {
    "sandbox_owner": "POSTGRES_OWNER_PASSWORD",
    "sandbox_api": "POSTGRES_API_PASSWORD",
    "sandbox_relay": "POSTGRES_RELAY_PASSWORD",
    "postgres": "POSTGRES_PASSWORD",
}
# What each role does every day: it runs, so the login itself (password) works.
ALLOWED_SQL = {
    "sandbox_owner": "SELECT count(*) FROM sandbox.orders",
    "sandbox_api": "SELECT count(*) FROM sandbox.orders",
    "sandbox_relay": "SELECT count(*) FROM sandbox.outbox",
    "postgres": "SELECT 1",
}
# Run in an api container (on `back`, as the services connect): one statement as a
# role, its password from the environment; prints the SQLSTATE (or "ok") and the message.
AS_ROLE = """
import os, sys, psycopg
role, sql = sys.argv[1:]
try:
    db = psycopg.connect(host="postgres", dbname="sandbox", user=role,
                         password=os.environ["PGPASSWORD"], connect_timeout=5)
except psycopg.OperationalError as error:  # libpq gives no SQLSTATE for a refused login
    print("login", str(error).strip().splitlines()[-1][:200])
    sys.exit()
try:
    with db:
        db.execute(sql)
    print("ok -")
except psycopg.Error as error:
    print(error.sqlstate or "-", str(error).strip().splitlines()[0][:200])
"""


def psql_as(role: str, sql: str) -> tuple[str, str]:
    """`sql` as `role`, logged in over the network with its password from an api
    container, as the services log in. (SQLSTATE, "ok" or "login" when the server turned
    the login away; the message). The
    password travels in docker exec's environment, never on a command line."""
    (api, *_) = docker.containers("api")
    done = subprocess.run(
        ["docker", "exec", "-e", "PGPASSWORD", api.name, "python", "-c", AS_ROLE, role, sql],
        env=os.environ | {"PGPASSWORD": setting(POSTGRES_PASSWORDS[role])},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    code, _, message = done.stdout.strip().partition(" ")
    return code or "-", (message or done.stderr.strip())[:200]


def postgres_try(attempt: Attempt) -> dict[str, Any]:
    allowed, _ = psql_as(attempt.identity, ALLOWED_SQL[attempt.identity])
    code, answer = psql_as(attempt.identity, attempt.tries)
    return {"logged_in": allowed == "ok", "code": code, "answer": answer}


def privileges(_: list[str]) -> dict[str, Any]:
    rows = [row(attempt, "RabbitMQ", rabbitmq_try(attempt)) for attempt in RABBITMQ] + [
        row(attempt, "PostgreSQL", postgres_try(attempt)) for attempt in POSTGRES
    ]
    return {"identities": rows, "holds": verdicts.privileges_holds(rows)}


def row(attempt: Attempt, system: str, outcome: dict[str, Any]) -> dict[str, Any]:
    return {"system": system, "identity": attempt.identity, "used_by": attempt.used_by,
            "may": attempt.may, "tries": attempt.tries, "expected": attempt.expected,
            **outcome}  # fmt: skip
