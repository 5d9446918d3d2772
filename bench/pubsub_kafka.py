"""Kafka throughput: aiokafka from the host versus Kafka's own perf tools, same broker, one run.

- produce: RECORDS records of RECORD_BYTES random bytes, acks=all, idempotent,
  linger 5 ms (Kafka 4's default), with 16 KiB batches (both clients'
  default) and with 256 KiB batches. Native: kafka-producer-perf-test.sh,
  run with `docker exec` in the kafka container (a JVM with a 128 MiB heap
  inside the broker's 768 MiB limit). aiokafka: one `send()` per record, all
  awaited at the end; the clock runs from the first send to the last ack.
- consume: the same RECORDS back, in a fresh consumer group.
  Native: kafka-consumer-perf-test.sh's fetch rate (group join excluded);
  aiokafka: getmany() from the first record to the last.
Target: aiokafka at least 40% of the native rate.

Not the same path: aiokafka runs on the host and goes through the published
port (127.0.0.1:9094, Docker's port forwarding); the native tools talk to
the broker on the container's own network (kafka:19092) and share its CPU
and memory limits. Each native run is a fresh JVM, so its rate includes the
JIT warming up: at 50,000 records (2 to 6 s) that is a large share, and a
200,000-record run reaches about twice the rate. A client in a long-lived
service would be warm; read the ratio as "for a short burst".

Each round creates its topics (TOPIC_PARTITIONS partitions, explicitly: the
broker does not auto-create) and deletes them.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.table import Table

from bench.support.narrate import Verdict, measuring
from comms_sandbox import config, docker

NAME = "pubsub-kafka"  # python -m bench pubsub-kafka
LESSON = "pubsub-kafka"

RECORDS = 50_000
RECORD_BYTES = 1024
TOPIC_PARTITIONS = 3
ROUNDS = 3
LINGER_MS = 5
BATCHES = {"16 KiB batches": 16_384, "256 KiB batches": 262_144}
KINDS = [f"produce, {label}" for label in BATCHES] + ["consume"]
TARGET_RATIO = 0.40
TOOL_HEAP = "-Xmx128m"
INTERNAL_BOOTSTRAP = "kafka:19092"

PRODUCER_LINE = re.compile(
    r"(?P<records>\d+) records sent, (?P<per_s>[\d.]+) records/sec \((?P<mb_s>[\d.]+) MB/sec\), "
    r"(?P<avg_ms>[\d.]+) ms avg latency, (?P<max_ms>[\d.]+) ms max latency"
)


def kafka_container() -> str:
    (container,) = docker.containers("kafka")
    return container.name


def _tool(container: str, *args: str) -> str:
    """Run one of Kafka's tools in the broker's container with a small heap; its stdout."""
    result = subprocess.run(
        ["docker", "exec", "-e", f"KAFKA_HEAP_OPTS={TOOL_HEAP}", container, *args],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def native_produce(container: str, topic: str, batch_bytes: int) -> dict[str, float]:
    out = _tool(
        container, "/opt/kafka/bin/kafka-producer-perf-test.sh",
        "--topic", topic, "--num-records", str(RECORDS), "--record-size", str(RECORD_BYTES),
        "--throughput", "-1", "--producer-props", f"bootstrap.servers={INTERNAL_BOOTSTRAP}",
        "acks=all", "enable.idempotence=true",
        f"linger.ms={LINGER_MS}", f"batch.size={batch_bytes}",
    )  # fmt: skip
    *_, last = PRODUCER_LINE.finditer(out)  # the summary is the last such line
    return {"per_s": float(last["per_s"]), "mb_s": float(last["mb_s"])}


def native_consume(container: str, topic: str) -> dict[str, float]:
    out = _tool(
        container, "/opt/kafka/bin/kafka-consumer-perf-test.sh",
        "--bootstrap-server", INTERNAL_BOOTSTRAP, "--topic", topic,
        "--messages", str(RECORDS), "--group", f"bench-native-{uuid.uuid4().hex[:8]}",
        "--timeout", "60000",
    )  # fmt: skip
    lines = [line for line in out.splitlines() if line.strip()]
    header = [h.strip() for h in lines[-2].split(",")]
    values = dict(zip(header, (v.strip() for v in lines[-1].split(",")), strict=True))
    return {"per_s": float(values["fetch.nMsg.sec"]), "mb_s": float(values["fetch.MB.sec"])}


async def aiokafka_produce(topic: str, batch_bytes: int) -> dict[str, float]:
    producer = AIOKafkaProducer(
        bootstrap_servers=config.kafka_bootstrap(), acks="all", enable_idempotence=True,
        linger_ms=LINGER_MS, max_batch_size=batch_bytes,
    )  # fmt: skip
    await producer.start()
    value = os.urandom(RECORD_BYTES)
    try:
        started = time.perf_counter()
        # send() returns once the record is in a batch (it waits when batches
        # are full); the acks are awaited together at the end.
        acks = [await producer.send(topic, value) for _ in range(RECORDS)]
        await asyncio.gather(*acks)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
    return _rates(RECORDS, elapsed)


async def aiokafka_consume(topic: str) -> dict[str, float]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=config.kafka_bootstrap(),
        group_id=f"bench-aiokafka-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    received, started = 0, None
    try:
        async with asyncio.timeout(120):
            while received < RECORDS:
                batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
                if batch and started is None:
                    started = time.perf_counter()  # like fetch.nMsg.sec: after the group join
                received += sum(len(records) for records in batch.values())
        elapsed = time.perf_counter() - (started or time.perf_counter())
    finally:
        await consumer.stop()
    return _rates(received, elapsed)


def _rates(records: int, elapsed_s: float) -> dict[str, float]:
    return {
        "per_s": round(records / elapsed_s, 1),
        "mb_s": round(records * RECORD_BYTES / elapsed_s / 2**20, 2),
    }


async def _topics(names: list[str], create: bool) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap())
    await admin.start()
    try:
        if create:
            await admin.create_topics(
                [NewTopic(n, num_partitions=TOPIC_PARTITIONS, replication_factor=1) for n in names]
            )
        else:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def one_round(container: str, runs: dict[str, list[dict[str, float]]]) -> None:
    """Every configuration once, on fresh topics: shared machines drift, so rounds interleave."""
    tag = uuid.uuid4().hex[:8]
    native, ours = f"bench-{tag}-native", f"bench-{tag}-aiokafka"
    asyncio.run(_topics([native, ours], create=True))
    try:
        for label, batch in BATCHES.items():
            runs[f"produce, {label}: native"].append(native_produce(container, native, batch))
            runs[f"produce, {label}: aiokafka"].append(asyncio.run(aiokafka_produce(ours, batch)))
        runs["consume: native"].append(native_consume(container, native))
        runs["consume: aiokafka"].append(asyncio.run(aiokafka_consume(ours)))
    finally:
        asyncio.run(_topics([native, ours], create=False))


def run() -> dict[str, Any]:
    container = kafka_container()
    runs: dict[str, list[dict[str, float]]] = {
        f"{kind}: {tool}": [] for kind in KINDS for tool in ("native", "aiokafka")
    }
    for round_ in range(1, ROUNDS + 1):
        with measuring("native tools and aiokafka, produce and consume", round_, ROUNDS):
            one_round(container, runs)
    medians = {name: _median(results) for name, results in runs.items()}
    ratios = {
        kind: round(medians[f"{kind}: aiokafka"]["per_s"] / medians[f"{kind}: native"]["per_s"], 3)
        for kind in KINDS
    }
    return {
        "tool": f"{RECORDS} records of {RECORD_BYTES} B, acks=all, idempotent, "
        f"linger {LINGER_MS} ms, {TOPIC_PARTITIONS} partitions, {ROUNDS} rounds (medians)",
        "runs": medians,
        "aiokafka_vs_native": ratios,
        "target_ratio": TARGET_RATIO,
        "meets_target": {kind: ratio >= TARGET_RATIO for kind, ratio in ratios.items()},
        "kafka_oom_killed": _oom_killed(container),
    }


def verdicts(result: dict[str, Any]) -> list[Verdict]:
    """aiokafka against Kafka's own tools, per kind: at least the target ratio."""
    target = result["target_ratio"]
    return [Verdict(f"{kind}: aiokafka / native >= {target:.2f}", met,
                    f"{result['aiokafka_vs_native'][kind]:.2f}")
            for kind, met in result["meets_target"].items()]  # fmt: skip


def _median(results: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "per_s": round(statistics.median(r["per_s"] for r in results), 1),
        "mb_s": round(statistics.median(r["mb_s"] for r in results), 2),
        "rounds_per_s": [r["per_s"] for r in results],
    }


def _oom_killed(container: str) -> bool:
    """Did the native tools push the broker's container over its memory limit?"""
    out = subprocess.run(
        ["docker", "inspect", "--format", "{{.State.OOMKilled}}", container],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return out.strip() == "true"


def tables(result: dict[str, Any]) -> list[Table]:
    runs = Table(title=f"Kafka throughput: {result['tool']}")
    for column in ("run", "records/s", "MB/s", "per round (records/s)"):
        runs.add_column(column, justify="right" if column != "run" else "left")
    for name, m in result["runs"].items():
        rounds = " ".join(f"{r:.0f}" for r in m["rounds_per_s"])
        runs.add_row(name, f"{m['per_s']:.0f}", f"{m['mb_s']:.1f}", rounds)
    ratios = Table(title="aiokafka / native, same run")
    for column in ("ratio", "records/s", "target"):
        ratios.add_column(column, justify="right" if column != "ratio" else "left")
    for kind, ratio in result["aiokafka_vs_native"].items():
        verdict = "meets" if result["meets_target"][kind] else "below"
        ratios.add_row(kind, f"{ratio:.2f}", f">= {result['target_ratio']:.2f} ({verdict})")
    return [runs, ratios]
