"""The auth lesson's least privilege: each service logs in to RabbitMQ and PostgreSQL as
its own identity, which may do what the service does and nothing else; on Kafka, the
lesson's producer and consumer are principals of their own on an authenticated
listener (SASL/SCRAM over TLS), held to ACLs.

For each identity the run logs in with its password, as the service does, then tries
one thing the service never needs; the broker or the database refuses it, and its
own error code is the evidence (RabbitMQ's 403 ACCESS_REFUSED, PostgreSQL's SQLSTATE
42501 insufficient_privilege, Kafka's 29 TOPIC_AUTHORIZATION_FAILED or 30
GROUP_AUTHORIZATION_FAILED, or a login refused: by pg_hba.conf, by the broker).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions

from comms_sandbox import docker, ports
from comms_sandbox.certs import DEFAULT_DIR, TlsFiles
from comms_sandbox.credentials import KAFKA_USERS, RABBITMQ_USERS, setting
from scenarios.auth import verdicts
from scenarios.auth.mutual_tls import python_in_api

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


# ---- Kafka (scenarios/auth/kafka-setup.sh: SCRAM credentials and ACLs)

KAFKA = (
    Attempt("sandbox-auth-producer", "the lesson's producer", "write auth.orders",
            "read auth.orders in group auth.readers", "30"),
    Attempt("sandbox-auth-consumer", "the lesson's consumer",
            "read auth.orders in group auth.readers", "write auth.orders", "29"),
    Attempt("sandbox-auth-consumer", "the lesson's consumer",
            "read auth.orders in group auth.readers", "read it in group auth.others", "30"),
    Attempt("ANONYMOUS", "the other lessons, on the plaintext listener",
            "every topic and group outside auth.*", "write auth.orders", "29"),
    Attempt("sandbox-auth-producer", "somebody with a wrong password", "nothing",
            "log in on the SASL_SSL listener", "login"),
)  # fmt: skip
# Kafka's error codes: TOPIC_AUTHORIZATION_FAILED 29, GROUP_AUTHORIZATION_FAILED 30.
BAD_CREDENTIALS = "Authentication failed during authentication due to invalid credentials"

# Run in an api container (on `back`, as a service would connect), with aiokafka: the
# producer writes a marker, the consumer reads it back in its group, then each attempt
# of KAFKA in turn; prints JSON: each outcome as "ok ...", "<Kafka error code> <name>"
# or "login <why>". The passwords and the CA come in the environment.
KAFKA_PROBE = """
import asyncio, json, os, ssl, sys
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError
TOPIC, marker = "auth.orders", sys.argv[1]

def options(user, password=None):
    if user == "ANONYMOUS":
        return {"bootstrap_servers": "kafka:19092"}
    return {"bootstrap_servers": "kafka:19094", "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": user,
            "sasl_plain_password": password or os.environ["KAFKA_" + user],
            "ssl_context": ssl.create_default_context(cadata=os.environ["KAFKA_CA"])}

async def write(user, password=None):
    producer = AIOKafkaProducer(request_timeout_ms=8000, **options(user, password))
    try:
        await producer.start()
        sent = await producer.send_and_wait(TOPIC, marker.encode())
        return f"ok wrote at offset {sent.offset}"
    finally:
        await producer.stop()

async def read(user, group, topic=TOPIC):
    consumer = AIOKafkaConsumer(group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=False, **options(user))
    try:
        await consumer.start()
        if group:
            consumer.subscribe([topic])
        else:
            consumer.assign([TopicPartition(topic, 0)])
        for _ in range(20):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                if group is None or any(r.value.decode() == marker for r in records):
                    return f"ok read {topic}"
        return "- nothing read in 10 s"
    finally:
        await consumer.stop()

async def attempt(work):
    try:
        return await asyncio.wait_for(work, 30)
    except KafkaConnectionError as error:
        return f"login {str(error)[:160]}"
    except KafkaError as error:
        return f"{getattr(error, 'errno', '-')} {type(error).__name__}"

async def main():
    print(json.dumps({
        "producer writes": await attempt(write("sandbox-auth-producer")),
        "consumer reads": await attempt(read("sandbox-auth-consumer", "auth.readers")),
        "producer reads": await attempt(read("sandbox-auth-producer", "auth.readers")),
        "consumer writes": await attempt(write("sandbox-auth-consumer")),
        "consumer, another group": await attempt(read("sandbox-auth-consumer", "auth.others")),
        "anonymous writes": await attempt(write("ANONYMOUS")),
        "wrong password": await attempt(write("sandbox-auth-producer", "not-the-password")),
        "consumer reads orders, outside auth.*": await attempt(
            read("sandbox-auth-consumer", None, "orders")),
    }))
asyncio.run(main())
"""
# Which probe outcome is each KAFKA attempt's, and which shows the identity's own work.
KAFKA_TRIES = ("producer reads", "consumer writes", "consumer, another group",
               "anonymous writes", "wrong password")  # fmt: skip
KAFKA_ALLOWED = ("producer writes", "consumer reads", "consumer reads", "-", "-")


def kafka_probe() -> dict[str, str]:
    environment = {f"KAFKA_{name}": setting(key) for name, key in KAFKA_USERS.items()}
    environment["KAFKA_CA"] = TlsFiles.in_directory(DEFAULT_DIR).ca_cert.read_text()
    out, err = python_in_api(KAFKA_PROBE, [f"auth-run-{time.time_ns()}"], environment)
    if not out:
        raise RuntimeError(f"the Kafka probe printed nothing: {err[-300:]}")
    return json.loads(out.splitlines()[-1])


def kafka_rows(since: str) -> tuple[list[dict[str, Any]], str]:
    """Each KAFKA attempt's row; and what a principal may do outside auth.*, where no
    ACL exists (allow.everyone.if.no.acl.found)."""
    probed = kafka_probe()
    (broker, *_) = docker.containers("kafka")
    refused_logins = sum(
        text.count(BAD_CREDENTIALS) for text in docker.log_streams(broker.name, since)
    )
    rows = []
    for attempt, tried, allowed in zip(KAFKA, KAFKA_TRIES, KAFKA_ALLOWED, strict=True):
        code, _, answer = probed[tried].partition(" ")
        if attempt.expected == "login":
            answer = f"{answer} (the broker logged {refused_logins} refused SCRAM logins)"
            logged_in = refused_logins == 0
        else:
            logged_in = allowed == "-" or probed[allowed].startswith("ok")
        rows.append(row(attempt, "Kafka", {"logged_in": logged_in, "code": code, "answer": answer}))
    return rows, probed["consumer reads orders, outside auth.*"]


def privileges(_: list[str]) -> dict[str, Any]:
    since = str(int(time.time()) - 1)
    kafka, outside = kafka_rows(since)
    rows = [
        *(row(attempt, "RabbitMQ", rabbitmq_try(attempt)) for attempt in RABBITMQ),
        *(row(attempt, "PostgreSQL", postgres_try(attempt)) for attempt in POSTGRES),
        *kafka,
    ]
    return {"identities": rows, "kafka_outside_its_namespace": outside,
            "holds": verdicts.privileges_holds(rows)}  # fmt: skip


def row(attempt: Attempt, system: str, outcome: dict[str, Any]) -> dict[str, Any]:
    return {"system": system, "identity": attempt.identity, "used_by": attempt.used_by,
            "may": attempt.may, "tries": attempt.tries, "expected": attempt.expected,
            **outcome}  # fmt: skip
