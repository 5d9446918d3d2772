"""Clusters: three-node Kafka and RabbitMQ, leaders killed under load, nothing acknowledged lost.

One broker is one failure away from an outage, and with one node Kafka's
acks=all promises no more than acks=1. This lesson runs each engine as a
three-node cluster (Compose profile `clusters`, beside the default stack's
single brokers) and breaks it on purpose while records flow:

- Kafka, leader killed: SIGKILL to the leader of a partition during a keyed
  stream with acks=all (idempotent) and one with acks=1. Look at the
  seconds without a leader, the in-sync set shrinking and growing back,
  and the read-back: acknowledged records lost (0 for acks=all), keys out
  of order (0).
- Kafka, below min.insync.replicas: two of three nodes stopped; acks=all
  writes are refused with NOT_ENOUGH_REPLICAS, a consumer still reads what
  was committed, and acks=1 writes are stored but not served until the
  replicas are back.
- RabbitMQ, leader killed: the node leading a quorum queue killed while a
  publisher waits for confirms and a consumer acks; 0 confirmed messages
  lost, the new leader and when; a classic queue on that node unavailable.
- A node cut off the network (not stopped), each engine: the majority
  elects a leader and goes on, the RabbitMQ node alone pauses
  (pause_minority), nothing acknowledged is lost when it rejoins.
- The cost: records/s and p99 with one copy and with three.
Kafka's failure parts run beside RabbitMQ's, each engine on its own; the
cost is measured last, alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from comms_sandbox import clusters
from scenarios import narration
from scenarios.clusters import (
    cost,
    kafka_failover,
    kafka_min_isr,
    partition,
    rabbitmq_failover,
)
from scenarios.clusters.render import render
from scenarios.result import ScenarioResult, from_parts, run_part

NAME = "clusters"
# Where `--capture` records its packets (scenarios/capture.py).
CAPTURE_AT = ("kafka-1", "rabbitmq-1")
ORDER = 62  # place in the syllabus: after publish-subscribe compared
SERVICES = clusters.SERVICES
PARTS: dict[str, Callable[[], dict[str, Any]]] = {
    "kafka_failover": kafka_failover.run,
    "kafka_min_isr": kafka_min_isr.run,
    "rabbitmq_failover": rabbitmq_failover.run,
    "kafka_partition": partition.run_kafka,
    "rabbitmq_partition": partition.run_rabbitmq,
    "cost": cost.run,
}
# Parts that touch different engines run side by side, each group in its own thread
# and with its own nodes.
SIDE_BY_SIDE = {
    ("kafka_failover", "kafka_min_isr", "kafka_partition"): tuple(clusters.KAFKA_NODES),
    ("rabbitmq_failover", "rabbitmq_partition"): tuple(clusters.RABBITMQ_NODES),
}

__all__ = ["NAME", "ORDER", "SERVICES", "render", "run", "where"]


def where() -> list[tuple[str, str]]:
    nodes = clusters.RABBITMQ_NODES.values()
    return [
        ("Kafka cluster (bootstrap)", clusters.kafka_bootstrap()),
        ("RabbitMQ nodes' UI", " ".join(clusters.ui_url(node) for node in nodes)),
        ("RabbitMQ login", f"{clusters.RABBITMQ_USER} (password RABBITMQ_CLUSTER_PASSWORD)"),
    ]


def run() -> ScenarioResult:
    with narration.waiting("every node running, connected and healthy", expected_s=2):
        clusters.heal(NAME)
    narration.step("Kafka's parts and RabbitMQ's run side by side, each on its own nodes")
    results: dict[str, Any] = {}
    failures: list[BaseException] = []
    threads = [threading.Thread(target=_run_parts, args=(group, nodes, results, failures))
               for group, nodes in SIDE_BY_SIDE.items()]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    _run_parts(("cost",), clusters.SERVICES, results, failures)
    return from_parts(NAME, results, PARTS)


def _run_parts(names: tuple[str, ...], nodes: tuple[str, ...], results: dict[str, Any],
               failures: list[BaseException]) -> None:  # fmt: skip
    for name in names:
        started = time.monotonic()
        try:
            results[name] = run_part(name, PARTS[name])
            results[name]["seconds"] = round(time.monotonic() - started, 1)
        except BaseException as error:
            failures.append(error)
            raise
        finally:
            with narration.waiting(f"{', '.join(nodes)} running and healthy", expected_s=2):
                clusters.heal(NAME, nodes)  # a part that failed half-way leaves no node down
