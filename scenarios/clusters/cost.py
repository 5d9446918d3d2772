"""What replication costs: the same writes with one copy and with three.

Kafka: RECORDS records of 512 bytes, at most WINDOW awaiting their ack, to a
one-partition topic with replication factor 1 (acks=1) and one with factor 3
(acks=1, then acks=all). RabbitMQ: MESSAGES persistent messages, each
confirmed before the next, to a classic queue (one copy, on the node the
publisher is connected to) and a quorum queue (three copies; confirmed once
two have it on disk). Rounds alternate, so the machine's noise hits every
configuration alike. Reported: records per second and each record's time to
its ack (p50, p99).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pika

from comms_sandbox import clusters
from order_events.rabbit import close_quietly, connect
from scenarios import narration
from scenarios.clusters import kafka_stream, rabbitmq_stream
from scenarios.result import percentiles_ms

RECORDS = 1500
WINDOW = 64
PAYLOAD = b"x" * 512
ROUNDS = 2
KAFKA = {  # label -> (topic, replicas of its one partition, acks)
    "RF 1, acks=1": ("cluster.cost.rf1", [1], "1"),
    "RF 3, acks=1": ("cluster.cost.rf3", [1, 2, 3], "1"),
    "RF 3, acks=all": ("cluster.cost.rf3", [1, 2, 3], "all"),
}
MESSAGES = 400
RABBIT = {  # label -> (queue, arguments)
    "classic, 1 copy": ("cluster.cost.classic", {}),
    "quorum, 3 copies": ("cluster.cost.quorum", rabbitmq_stream.QUORUM_ARGUMENTS),
}
RABBIT_NODE = clusters.RABBITMQ_NODES["rabbitmq-1"]


async def kafka_round(topic: str, acks: str, name: str = "") -> list[float]:
    """Each record's seconds from send() to its ack."""
    window = asyncio.Semaphore(WINDOW)
    latencies: list[float] = []

    with narration.load(f"Kafka {name or topic}", total=RECORDS) as counts:

        async def one(client: Any) -> None:
            async with window:
                sent = time.perf_counter()
                counts.advance(sent=1)
                await (await client.send(topic, PAYLOAD))
                latencies.append(time.perf_counter() - sent)
                counts.advance(answered=1)

        async with kafka_stream.producer(acks, linger_ms=1) as client:
            await asyncio.gather(*(one(client) for _ in range(RECORDS)))
    return latencies


async def kafka_costs() -> dict[str, Any]:
    admin = await clusters.admin_client()
    try:
        for topic, replicas, _ in KAFKA.values():
            if topic not in await admin.list_topics():
                await clusters.recreate_topic(admin, topic, {0: replicas})
    finally:
        await admin.close()
    samples: dict[str, list[float]] = {label: [] for label in KAFKA}
    elapsed = dict.fromkeys(KAFKA, 0.0)
    for n in range(ROUNDS):
        for label, (topic, _, acks) in KAFKA.items():
            started = time.perf_counter()
            samples[label] += await kafka_round(topic, acks, f"{label}, round {n + 1}")
            elapsed[label] += time.perf_counter() - started
    return told({label: summary(samples[label], elapsed[label]) for label in KAFKA})


def told(costs: dict[str, Any]) -> dict[str, Any]:
    """Narrate each configuration's rate and p99, as they are known."""
    for label, cost in costs.items():
        narration.seen(f"{label}: {cost['per_s']}/s, p99 {cost['p99_ms']} ms")
    return costs


def rabbit_round(channel: Any, queue: str, name: str = "") -> list[float]:
    latencies = []
    properties = pika.BasicProperties(delivery_mode=2)
    with narration.load(f"RabbitMQ {name or queue}", total=MESSAGES) as counts:
        for _ in range(MESSAGES):
            sent = time.perf_counter()
            channel.basic_publish("", queue, PAYLOAD, properties, mandatory=True)
            latencies.append(time.perf_counter() - sent)
            counts.advance(sent=1, answered=1)
    return latencies


def rabbit_costs() -> dict[str, Any]:
    clusters.wait_for_rabbitmq_cluster()
    for queue, arguments in RABBIT.values():
        rabbitmq_stream.declare(RABBIT_NODE, queue, arguments)
    samples: dict[str, list[float]] = {label: [] for label in RABBIT}
    elapsed = dict.fromkeys(RABBIT, 0.0)
    connection = connect(clusters.amqp_url(RABBIT_NODE), "lesson-clusters-cost", retry_for_s=10)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for n in range(ROUNDS):
            for label, (queue, _) in RABBIT.items():
                started = time.perf_counter()
                samples[label] += rabbit_round(channel, queue, f"{label}, round {n + 1}")
                elapsed[label] += time.perf_counter() - started
        for queue, _ in RABBIT.values():
            channel.queue_purge(queue)
    finally:
        close_quietly(connection)
    return told({label: summary(samples[label], elapsed[label]) for label in RABBIT})


def summary(latencies: list[float], elapsed_s: float) -> dict[str, Any]:
    latency = percentiles_ms(latencies)
    return {"acknowledged": len(latencies), "per_s": round(len(latencies) / elapsed_s, 1),
            "p50_ms": latency["p50"], "p99_ms": latency["p99"]}  # fmt: skip


def run() -> dict[str, Any]:
    result = {"kafka": asyncio.run(kafka_costs()), "rabbitmq": rabbit_costs()}
    result["ratios"] = ratios(result)
    result["holds"] = holds(result)
    return result


def ratios(result: dict[str, Any]) -> dict[str, float]:
    kafka, rabbit = result["kafka"], result["rabbitmq"]
    return {
        "Kafka RF 3 acks=all / RF 1 acks=1, records/s": _ratio(
            kafka["RF 3, acks=all"]["per_s"], kafka["RF 1, acks=1"]["per_s"]
        ),
        "Kafka RF 3 acks=all / RF 1 acks=1, p99": _ratio(
            kafka["RF 3, acks=all"]["p99_ms"], kafka["RF 1, acks=1"]["p99_ms"]
        ),
        "RabbitMQ quorum / classic, confirmed/s": _ratio(
            rabbit["quorum, 3 copies"]["per_s"], rabbit["classic, 1 copy"]["per_s"]
        ),
    }


def _ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else 0.0


def holds(result: dict[str, Any]) -> dict[str, bool]:
    """Every write acknowledged in every configuration (the figures are reported, not judged)."""
    return {
        "Kafka: every record acknowledged in each configuration": all(
            r["acknowledged"] == RECORDS * ROUNDS for r in result["kafka"].values()
        ),
        "RabbitMQ: every message confirmed in each configuration": all(
            r["acknowledged"] == MESSAGES * ROUNDS for r in result["rabbitmq"].values()
        ),
    }
