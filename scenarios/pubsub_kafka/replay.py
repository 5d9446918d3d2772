"""Replay: read the log again, from the oldest offset and from a point in time.

Both groups have consumed and committed everything by now; the records are
still there, because consuming in Kafka only moves a group's offset. A
reader that seeks needs no group and commits nothing.
"""

from __future__ import annotations

from typing import Any

from comms_sandbox import kafka as host_kafka
from comms_sandbox.kafka_offsets import Inspector, named
from order_events import kafka as events
from scenarios.pubsub_kafka.semantics import Published


async def run(inspector: Inspector, published: Published) -> dict[str, Any]:
    topic = events.ORDERS_TOPIC
    end = await inspector.log_end(topic)
    return {
        "from_earliest": await _from_earliest(inspector, published, end),
        "from_timestamp": await _from_timestamp(inspector, published, end),
    }


async def _from_earliest(
    inspector: Inspector, published: Published, end: dict[int, int]
) -> dict[str, Any]:
    start = await inspector.log_start(events.ORDERS_TOPIC)
    records = await inspector.read(events.ORDERS_TOPIC, start, end)
    ours = {i for r in records if (i := host_kafka.event_id_of(r)) in published.all_ids()}
    return {
        "log_start_offsets": named(start),
        "records_in_log": len(records),
        "earlier_runs_records": len(records) - len(ours),
        "published_this_run": len(published.all_ids()),
        "this_run_replayed": len(ours),
        "holds": ours == published.all_ids(),
    }


async def _from_timestamp(
    inspector: Inspector, published: Published, end: dict[int, int]
) -> dict[str, Any]:
    """offsets_for_times: the first offset at or after the moment between the two halves."""
    start = await inspector.offsets_for_time(events.ORDERS_TOPIC, published.split_ms)
    records = await inspector.read(events.ORDERS_TOPIC, start, end)
    every = [*published.events.values(), published.poison]
    expected = {e["event_id"] for e in every if e["timestamp_ms"] >= published.split_ms}
    got = {i for r in records if (i := host_kafka.event_id_of(r)) in published.all_ids()}
    return {
        "timestamp_ms": published.split_ms,
        "start_offsets": named(start),
        "expected": len(expected),
        "replayed": len(got),
        "holds": got == expected and len(expected) > 0,
    }
