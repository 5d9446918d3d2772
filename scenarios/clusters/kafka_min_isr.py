"""Kafka below min.insync.replicas: two of three nodes stopped, acks=all refused.

One partition led by node 3, replicas on all three, min.insync.replicas 2.
Nodes 1 and 2 are stopped one after the other with SIGTERM: a clean
shutdown, in which each tells the controllers it is leaving, so they take
it out of the in-sync set while a majority of controllers is still up.
(Killed outright, the second node would take the controllers' majority
with it and the in-sync set could no longer change: writes would time out
instead of being refused, safe either way.) Then writes with acks=all must
be refused with NOT_ENOUGH_REPLICAS, writes with acks=1 still go through
with one copy, and a consumer still reads everything acknowledged before.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from comms_sandbox import clusters, docker
from scenarios import narration
from scenarios.clusters import kafka_stream
from scenarios.clusters.kafka_stream import Stream

TOPIC = "cluster.min-isr"
LEADER = 3
STOPPED = (1, 2)
BEFORE = 100  # acks=all records while all three are up
PER_STEP = 20
ISR_TIMEOUT_S = 30.0
# acks=all without idempotence, so a refusal ends the send after this long
# instead of being retried for ever.
REFUSED_AFTER_MS = 3000


async def isr_now(topic: str) -> list[int]:
    admin = await clusters.admin_client()
    try:
        return list((await clusters.partition_state(admin, topic, 0)).isr)
    finally:
        await admin.close()


async def wait_for_isr(topic: str, want: list[int], unanswered: Counter[str],
                       timeout_s: float = ISR_TIMEOUT_S) -> list[int]:  # fmt: skip
    """The in-sync set once it is `want`, or whatever it is after timeout_s.

    Each ask the cluster did not answer is counted in `unanswered`, by error.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    isr: list[int] = []
    with narration.waiting(f"the in-sync set to be {want}", expected_s=5):
        while loop.time() < deadline:
            try:
                isr = await isr_now(topic)
            except clusters.KAFKA_UNANSWERED as error:  # a node may be starting or stopping
                unanswered[type(error).__name__] += 1
                isr = []
            if isr == want:
                break
            await asyncio.sleep(0.25)
    narration.seen(f"in sync: {isr}")
    return isr


async def write(label: str, acks: str, records: int, **options: Any) -> Stream:
    started = asyncio.get_running_loop().time()
    return await kafka_stream.produce(TOPIC, Stream(acks, label), records, 200.0, started,
                                      **options)  # fmt: skip


async def run_async() -> dict[str, Any]:
    admin = await clusters.admin_client()
    try:
        await clusters.recreate_topic(admin, TOPIC, {0: [LEADER, *STOPPED]})
    finally:
        await admin.close()
    steps: list[dict[str, Any]] = []
    unanswered: Counter[str] = Counter()
    written = [await write("a", "all", BEFORE)]
    steps.append({"step": "3 nodes up", "isr": await isr_now(TOPIC), **written[0].summary()})
    for node in STOPPED:
        narration.step(f"SIGTERM to kafka-{node}: a clean shutdown")
        await asyncio.to_thread(docker.stop, clusters.kafka_node(node).container)
        isr = await wait_for_isr(
            TOPIC, sorted(n for n in (LEADER, *STOPPED) if n > node), unanswered
        )
        if node != STOPPED[-1]:
            written.append(await write("b", "all", PER_STEP))
            steps.append({"step": f"node {node} stopped", "isr": isr, **written[-1].summary()})
    narration.step(f"acks=all with the leader alone in sync: {PER_STEP} records, "
                   "each refused or not within 3 s")  # fmt: skip
    refused = await write("c", "all", PER_STEP, idempotent=False,
                          request_timeout_ms=REFUSED_AFTER_MS)  # fmt: skip
    errors = ", ".join(sorted(set(refused.failed.values()))) or "no error"
    narration.seen(f"acks=all: {len(refused.acked)} acknowledged, "
                   f"{len(refused.failed)} refused ({errors})")  # fmt: skip
    steps.append({"step": "nodes 1 and 2 stopped", "isr": isr, **refused.summary()})
    narration.step(f"acks=1 with the leader alone: {PER_STEP} records")
    one_copy = await write("d", "1", PER_STEP)
    narration.seen(f"acks=1: {len(one_copy.acked)} acknowledged with one copy")
    steps.append({"step": "nodes 1 and 2 stopped", "isr": isr, **one_copy.summary()})
    read = await kafka_stream.read_all(TOPIC, 1)
    narration.seen(f"a consumer read {len(read)} records with one node up")
    for node in STOPPED:
        narration.step(f"kafka-{node} started again")
        await asyncio.to_thread(docker.start, clusters.kafka_node(node).container)
    back = await wait_for_isr(TOPIC, [1, 2, 3], unanswered, 60)
    read_after = await kafka_stream.read_all(TOPIC, 1)
    result = measured(steps, written=written, refused=refused, one_copy=one_copy,
                      reads=(read, read_after), back=back)  # fmt: skip
    result["isr_asks_unanswered"] = dict(unanswered)  # by error, while nodes stopped and started
    return result


def measured(steps: list[dict[str, Any]], *, written: list[Stream], refused: Stream,
             one_copy: Stream, reads: tuple[list[str], list[str]],
             back: list[int]) -> dict[str, Any]:  # fmt: skip
    acknowledged = {v for stream in written for v in stream.acked}
    read, read_after = reads
    seen = set(read)
    result = {
        "steps": steps,
        "isr_with_one_node": steps[-1]["isr"],
        "refused_errors": sorted(set(refused.failed.values())),
        "refused_in_log": len(set(refused.failed) & seen),
        "acknowledged_before": len(acknowledged),
        "read_with_one_node": len(read),
        "acknowledged_missing": len(acknowledged - seen),
        "acks_1_accepted": len(one_copy.acked),
        # Kafka 4.1 (KIP-966): below min.insync.replicas the leader does not move its
        # high watermark, so records written with acks=1 are stored but not served...
        "acks_1_read_with_one_node": len(set(one_copy.acked) & seen),
        # ...until enough replicas have them again.
        "acks_1_read_after_restart": len(set(one_copy.acked) & set(read_after)),
        "isr_after_restart": back,
    }
    result["holds"] = holds(result, refused)
    return result


def holds(result: dict[str, Any], refused: Stream) -> dict[str, bool]:
    return {
        "the in-sync set was the leader alone": len(result["isr_with_one_node"]) == 1,
        "acks=all refused with NotEnoughReplicasError": refused.sent > 0
        and not refused.acked
        and result["refused_errors"] == ["NotEnoughReplicasError"],
        "refused records are not in the log": result["refused_in_log"] == 0,
        "a consumer still read every acknowledged record": result["acknowledged_before"] > 0
        and result["acknowledged_missing"] == 0,
        "the ISR grew back to 3": len(result["isr_after_restart"]) == 3,
    }


def run() -> dict[str, Any]:
    return asyncio.run(run_async())
