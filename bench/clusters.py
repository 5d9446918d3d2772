"""What the clusters cost and how fast they recover: copies, failover, start-up, memory.

- Kafka: records/s and p99 with replication factor 3 and acks=all against
  factor 1 and acks=1 (the lesson's cost part, more records, rounds
  alternating), as a ratio.
- RabbitMQ: confirmed publishes/s (100 unconfirmed at most, as PerfTest's
  --confirm 100) to a quorum queue on the 3-node cluster against a quorum
  queue on the default stack's single node, as a ratio.
- Failover: seconds without a leader after SIGKILL, per engine (the
  lesson's kill parts, run once each).
- Start-up: the six nodes stopped, then `up --wait` until healthy and until
  RabbitMQ's three nodes see each other; idle memory per node after that,
  against the issue's budget (Kafka about 350-400 MiB, RabbitMQ 100-150 MiB).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import Any

import pika
from rich.table import Table

from bench.pubsub_rabbitmq import WindowedPublisher, perf_url
from bench.support.report import right_aligned
from comms_sandbox import clusters, docker
from comms_sandbox.compose import compose, start_services
from order_events.rabbit import close_quietly
from scenarios import narration
from scenarios.clusters import cost, kafka_failover, rabbitmq_failover

NAME = "clusters"  # python -m bench clusters
LESSON = "clusters"

ROUNDS = 3
MESSAGES = 5000
WINDOW = 100
SETTLE_S = 10
MEMORY_BUDGET_MIB = {"kafka": 400, "rabbitmq": 150}  # per node, idle


def kafka_rates() -> dict[str, Any]:
    return asyncio.run(cost.kafka_costs())


def quorum_publish_rate(url: str, queue: str) -> float:
    """Confirmed publishes per second into a fresh quorum queue at `url`."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
        seconds = WindowedPublisher(url, queue, MESSAGES, WINDOW).run()
        channel.queue_delete(queue)
    finally:
        close_quietly(connection)
    return round(MESSAGES / seconds, 1)


def rabbit_rates() -> dict[str, float]:
    clusters.wait_for_rabbitmq_cluster()
    cluster_url = clusters.amqp_url(clusters.RABBITMQ_NODES["rabbitmq-1"])
    rates: dict[str, list[float]] = {"single node": [], "3-node cluster": []}
    for _ in range(ROUNDS):
        single = f"bench.quorum.{uuid.uuid4().hex[:6]}"
        rates["single node"].append(quorum_publish_rate(perf_url(), single))
        rates["3-node cluster"].append(quorum_publish_rate(cluster_url, "cluster.bench.quorum"))
    return {where: statistics.median(r) for where, r in rates.items()}


def failover() -> dict[str, Any]:
    kafka = kafka_failover.run()
    rabbit = rabbitmq_failover.run()
    return {
        "kafka_leaderless_s": kafka["leaderless_s"],
        "kafka_partition_stalled_s": kafka["streams"]["all"]["partition_0_stalled_s"],
        "kafka_acks_all_lost": kafka["streams"]["all"]["lost"],
        "rabbitmq_new_leader_after_s": rabbit["new_leader"]["after_s"],
        "rabbitmq_publish_stalled_s": rabbit["traffic"]["publish_stalled_s"],
        "rabbitmq_confirmed_lost": rabbit["traffic"]["lost"],
    }


def startup_and_memory() -> dict[str, Any]:
    compose("--profile", "clusters", "stop", *clusters.SERVICES, capture=True)
    started = time.monotonic()
    start_services(clusters.SERVICES)
    healthy_s = time.monotonic() - started
    clusters.wait_for_rabbitmq_cluster()
    clustered_s = time.monotonic() - started
    time.sleep(SETTLE_S)
    names = {node.container: service for service, node in
             {**clusters.KAFKA_NODES, **clusters.RABBITMQ_NODES}.items()}  # fmt: skip
    memory = {names[n]: mib for n, mib in docker.memory_mib(list(names)).items()}
    return {"up_to_healthy_s": round(healthy_s, 1), "rabbitmq_clustered_s": round(clustered_s, 1),
            "idle_memory_mib": memory, "within_budget": within_budget(memory)}  # fmt: skip


def within_budget(memory: dict[str, float]) -> bool:
    return all(mib <= MEMORY_BUDGET_MIB[service.split("-")[0]] for service, mib in memory.items())


def run() -> dict[str, Any]:
    with narration.part("the clusters: up, healthy, memory at rest"):
        started = startup_and_memory()
    with narration.part("Kafka: RF 1 acks=1 against RF 3 acks=all"):
        kafka = kafka_rates()
    with narration.part(f"RabbitMQ quorum queue: 1 node against 3, {ROUNDS} rounds"):
        rabbit = rabbit_rates()
    with narration.part("failover"):
        failed_over = failover()
    return {
        "kafka": kafka,
        "rabbitmq_confirmed_per_s": rabbit,
        "ratios": {
            "Kafka RF 3 acks=all / RF 1 acks=1 (records/s)": round(
                kafka["RF 3, acks=all"]["per_s"] / kafka["RF 1, acks=1"]["per_s"], 2
            ),
            "RabbitMQ quorum, 3 nodes / 1 node (confirmed/s)": round(
                rabbit["3-node cluster"] / rabbit["single node"], 2
            ),
        },
        "failover": failed_over,
        "startup": started,
    }


def tables(result: dict[str, Any]) -> list[Table]:
    copies = right_aligned("Kafka: copies and acks (records/s, p99)", "configuration", "per s",
                           "p50 (ms)", "p99 (ms)")  # fmt: skip
    for label, r in result["kafka"].items():
        copies.add_row(label, f"{r['per_s']:.0f}", f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}")
    ratios = right_aligned("ratios (same run)", "ratio", "value")
    for label, value in result["ratios"].items():
        ratios.add_row(label, f"{value:.2f}")
    fail = right_aligned("failover after SIGKILL", "measure", "value")
    for label, value in result["failover"].items():
        fail.add_row(label, str(value))
    s = result["startup"]
    boot = right_aligned("start-up (from stopped) and idle memory per node", "measure", "value")
    boot.add_row("healthy (s)", str(s["up_to_healthy_s"]))
    boot.add_row("RabbitMQ clustered (s)", str(s["rabbitmq_clustered_s"]))
    for node, mib in sorted(s["idle_memory_mib"].items()):
        budget = MEMORY_BUDGET_MIB[node.split("-")[0]]
        boot.add_row(f"{node} (MiB, budget {budget})", f"{mib:.0f}")
    boot.add_row("every node within budget", str(s["within_budget"]))
    return [copies, ratios, fail, boot]
