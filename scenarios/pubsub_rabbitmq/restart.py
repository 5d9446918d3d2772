"""Reliability: a bounded, paced stream of events while the broker crashes mid-way (SIGKILL).

The publisher waits for each confirm; when the connection goes it reconnects
and sends the unconfirmed event again, same event_id. The consumers reconnect
and get back what they had not acked. A confirm from a quorum queue means the
message is on disk, so nothing confirmed may be lost; what may happen is a
duplicate (a confirm or an ack lost in the crash), which the consumers detect
by event_id and skip.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from comms_sandbox import docker, rabbitmq
from order_events import rabbit
from order_events.model import sample_orders
from scenarios.pubsub_rabbitmq import subscribers

EVENTS = 600
RATE_PER_S = 100
RESTART_AFTER = 150  # confirmed events before the broker is killed (SIGKILL)
DRAIN_TIMEOUT_S = 90
HEALTHY_TIMEOUT_S = 120


def broker_container() -> str:
    """The RabbitMQ container's name, as Compose made it (comms-sandbox-rabbitmq-1)."""
    return docker.containers("rabbitmq")[0].name


def restart_when(
    publisher: rabbit.Publisher, container: str, started: float, done: threading.Event
) -> dict[str, Any]:
    """Once RESTART_AFTER events are confirmed: crash the broker (SIGKILL, no clean shutdown),
    start it again, and wait until healthy."""
    while publisher.confirmed < RESTART_AFTER:
        if done.wait(0.01):  # the stream ended first (it failed): nothing to interrupt
            return {"container": container, "error": "the stream ended before the restart"}
    timeline: dict[str, Any] = {"container": container, "after_confirmed": publisher.confirmed}
    timeline["issued_at_s"] = round(time.perf_counter() - started, 2)
    try:
        docker.kill(container)  # a crash: the broker gets no chance to flush or say goodbye
        docker.start(container)
        timeline["error"] = None
    except docker.DockerError as exc:
        timeline["error"] = str(exc)
    timeline["restart_returned_at_s"] = round(time.perf_counter() - started, 2)
    docker.wait_healthy(container, timeout_s=HEALTHY_TIMEOUT_S)
    timeline["healthy_at_s"] = round(time.perf_counter() - started, 2)
    return timeline


def run(url: str, events: int = EVENTS, rate_per_s: float = RATE_PER_S) -> dict[str, Any]:
    """Stream `events` at `rate_per_s` through a broker restart; count losses and duplicates."""
    container = broker_container()
    leftovers = rabbitmq.purge(url, (*rabbit.ORDER_QUEUES, rabbit.DEAD_LETTER_QUEUE))
    groups = subscribers.start(url)
    timeline: dict[str, Any] = {}
    done = threading.Event()
    with rabbit.Publisher(url, name="stream-publisher", retry_for_s=HEALTHY_TIMEOUT_S) as pub:
        started = time.perf_counter()
        restarter = threading.Thread(
            target=lambda: timeline.update(restart_when(pub, container, started, done)),
            daemon=True,
        )
        restarter.start()
        report = pub.publish_all(sample_orders(events), rate_per_s=rate_per_s)
        done.set()
    restarter.join(HEALTHY_TIMEOUT_S)
    waited_s = subscribers.wait_until_done(
        groups, len(report.confirmed), dead_letters=0, timeout_s=DRAIN_TIMEOUT_S
    )
    subscribers.stop(groups)
    reports = {role: g.report(report.confirmed) for role, g in groups.items()}
    return {
        "stream": {
            "events": events,
            "rate_per_s": rate_per_s,
            "confirmed": len(report.confirmed),
            "failed": len(report.failed),
            "not_sent": report.not_sent,
            "publishes": report.publishes,
            "resent": report.publishes - len(report.confirmed),
            "reconnects": report.reconnects,
            "duration_s": report.duration_s,
            "slowest_publish_s": report.slowest_publish_s,
        },
        "restart": timeline,
        "leftovers_purged_before": leftovers,
        "drained_in_s": waited_s,
        "groups": reports,
        "lost_total": sum(r["lost"] for r in reports.values()),
        "duplicates_total": sum(r["duplicates_skipped"] for r in reports.values()),
        "left_in_queues_after": rabbitmq.purge(url, rabbit.ORDER_QUEUES),
    }


def holds(m: dict[str, Any]) -> dict[str, bool]:
    """Each property the reliability run demonstrates, true or false."""
    stream, restart = m["stream"], m["restart"]
    return {
        "broker_restarted_mid_stream": "healthy_at_s" in restart and not restart.get("error"),
        "every_event_confirmed": stream["confirmed"] == stream["events"],
        "no_confirmed_event_lost": m["lost_total"] == 0,
        "no_event_processed_twice": all(
            g["processed_more_than_once"] == 0 for g in m["groups"].values()
        ),
    }
