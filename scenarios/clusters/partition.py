"""A node cut off from the others (disconnected from the network, still running).

Kafka: kafka-2 leads partition 0 of a fresh topic; an acks=all idempotent
stream runs while kafka-2 is taken off the cluster network for CUT_FOR_S,
then put back. The controllers on the majority side stop hearing it,
fence it and elect another leader from the in-sync set; the cut-off node
cannot move its high watermark alone, so nothing it accepted on its own is
acknowledged. Clients need a request timeout shorter than the cut to move
on (aiokafka's default is 40 s).

RabbitMQ: rabbitmq-2 leads a quorum queue; a publisher with confirms on
rabbitmq-1 and a consumer on rabbitmq-3 run while rabbitmq-2 is cut off.
Raft on the majority elects a new leader within seconds; after the Erlang
net tick (10 s here) the cut-off node sees it is in the minority and pauses
(cluster_partition_handling = pause_minority): its listeners close. Back on
the network it resumes and catches up.

Each engine is one part (kafka_partition, rabbitmq_partition), so each runs
beside the other engine's parts.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from comms_sandbox import clusters, docker
from scenarios import narration
from scenarios.clusters import kafka_failover, kafka_stream, rabbitmq_stream
from scenarios.clusters.kafka_stream import Stream
from scenarios.clusters.rabbitmq_stream import Traffic

CUT_AT_S = 2.0
# Kafka fences a silent broker after its 6 s session timeout; RabbitMQ notices
# a silent peer after the 10 s net tick (7.5 to 12.5 s), then pauses.
KAFKA_CUT_FOR_S = 14.0
# On a busy machine the majority may take longer to fence the cut-off node: the cut
# lasts until it has (another leader, an in-sync set without it), at most this long.
KAFKA_LONGEST_CUT_S = 45.0
RABBIT_CUT_FOR_S = 22.0
RABBIT_LONGEST_CUT_S = 60.0
KAFKA_TOPIC = "cluster.partition"
KAFKA_ASSIGNMENT = {0: [2, 3, 1]}
KAFKA_RECORDS = 3000
KAFKA_RATE = 150.0
RABBIT_QUEUE = "cluster.partition.quorum"
RABBIT_MESSAGES = 2400
RABBIT_RATE = 120.0
# After the cut node rejoined, how long its queue member may take to be online again.
MEMBERS_ONLINE_TIMEOUT_S = 30.0
CUT_KAFKA = clusters.kafka_node(2)
CUT_RABBIT, RABBIT_PUBLISHER, RABBIT_CONSUMER = (
    clusters.RABBITMQ_NODES[f"rabbitmq-{n}"] for n in (2, 1, 3)
)
# What a RabbitMQ node logs when it finds itself on the minority side, and pauses.
MINORITY_LOG = "Cluster minority/secondary status detected"


def cut_and_rejoin(node: clusters.Node, started: float, events: dict[str, Any],
                   cut_for_s: float, observe: Any = None, *,
                   moved_on: Callable[[], bool] | None = None,
                   longest_s: float = 0.0) -> None:  # fmt: skip
    """Cut the node off at CUT_AT_S for cut_for_s; observe(events, t) each second meanwhile.

    With moved_on, the cut lasts past cut_for_s until moved_on() (up to longest_s),
    observed on: on a busy machine what the verdicts look for still happens while
    the node is cut off, later. The extra time goes in events["cut_extended_s"].
    """
    time.sleep(CUT_AT_S)
    events["cut"] = round(time.monotonic() - started, 2)
    events["cut_at_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    events["cut_at_epoch"] = time.time()
    narration.step(f"{node.service} cut off the cluster network for {cut_for_s:.0f} s")
    clusters.cut_off(node)
    rejoin_at = started + CUT_AT_S + cut_for_s
    with narration.waiting(f"{node.service} back on the network", expected_s=cut_for_s):
        observe_until(lambda: time.monotonic() >= rejoin_at - 1, started, events, observe)
        time.sleep(max(0.0, rejoin_at - time.monotonic()))
    if moved_on is not None and not moved_on():
        extended_at, until = time.monotonic(), started + CUT_AT_S + longest_s
        with narration.waiting(f"the majority to move on without {node.service}", expected_s=5):
            observe_until(lambda: moved_on() or time.monotonic() >= until, started, events,
                          observe)  # fmt: skip
        events["cut_extended_s"] = round(time.monotonic() - extended_at, 1)
        narration.seen(f"the cut lasted {events['cut_extended_s']:.0f} s longer: a busy machine")
    events["rejoined"] = round(time.monotonic() - started, 2)
    narration.step(f"{node.service} reconnected to the cluster network")
    clusters.reconnect(node)


def observe_until(done: Callable[[], bool], started: float, events: dict[str, Any],
                  observe: Any) -> None:  # fmt: skip
    """observe(events, seconds since the cut) about once a second until done()."""
    while not done():
        if observe is not None:
            observe(events, round(time.monotonic() - started - events["cut"], 1))
        time.sleep(1.0 if observe is None else 0.5)


def accepts_clients(node: clusters.Node) -> bool:
    """Asked inside the node (the host cannot reach it): does anything accept on its AMQP port?"""
    try:
        docker.run_in(node.container, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/5672")
    except docker.DockerError:
        return False
    return True


def observe_rabbit(events: dict[str, Any], since_cut_s: float) -> None:
    """While cut: the majority's leader and view, whether the cut-off node paused.

    Each question on its own: the majority's /api/nodes can hang while it still
    waits on the cut-off node, and must not hide the queue's leader.
    """
    ask_majority(events, "leader", lambda: watch_leader(events, since_cut_s))
    ask_majority(events, "nodes", lambda: watch_running(events))
    if "minority_after_s" not in events:
        watch_minority(events)
    if "stopped_accepting_after_s" not in events and not accepts_clients(CUT_RABBIT):
        events["stopped_accepting_after_s"] = since_cut_s
        narration.seen(f"{CUT_RABBIT.service} stopped accepting clients")


def ask_majority(events: dict[str, Any], what: str, ask: Callable[[], None]) -> None:
    """ask(), counting in events the questions left unanswered (busy electing: next time)."""
    try:
        ask()
    except clusters.RABBITMQ_UNANSWERED as error:
        unanswered = events.setdefault("majority_unanswered", {})
        key = f"{what}: {type(error).__name__}"
        unanswered[key] = unanswered.get(key, 0) + 1


def watch_leader(events: dict[str, Any], since_cut_s: float) -> None:
    leader = clusters.queue_state(RABBIT_PUBLISHER, RABBIT_QUEUE)["leader"]
    if leader != events.get("leader_during_cut"):
        narration.seen(f"{RABBIT_QUEUE}: led by {leader}, {since_cut_s:.0f} s after the cut")
    # The first leader seen, replaced by any other, and by the cut-off node's own name
    # never kept once another was seen: a leader elected by the majority sticks.
    if events.get("leader_during_cut") in (None, CUT_RABBIT.rabbit_name):
        events["leader_during_cut"] = leader


def watch_running(events: dict[str, Any]) -> None:
    running = clusters.running_nodes(RABBIT_PUBLISHER)
    if running != events.get("majority_sees_running"):
        narration.seen(f"the majority sees running: {', '.join(running)}")
    events["majority_sees_running"] = running


def watch_minority(events: dict[str, Any]) -> None:
    """The cut-off node's own log line saying it is in the minority; when it logged it,
    by the line's timestamp, in seconds after the cut."""
    logged = minority_logged_at(docker.logs(CUT_RABBIT.container, since=events["cut_at_utc"]))
    if logged is None:
        return
    events["minority_after_s"] = round(max(0.0, logged - events["cut_at_epoch"]), 1)
    narration.seen(f"{CUT_RABBIT.service} found itself in the minority after "
                   f"{events['minority_after_s']:.0f} s: it pauses (pause_minority)")  # fmt: skip


def minority_logged_at(log: str) -> float | None:
    """The epoch time of the first MINORITY_LOG line in a RabbitMQ log (its lines start
    `2026-12-06 22:30:19.244135+00:00 [warning] ...`); None when it has none."""
    for line in log.splitlines():
        if MINORITY_LOG in line:
            stamp = " ".join(line.split(" ", 2)[:2])
            try:
                return datetime.fromisoformat(stamp).timestamp()
            except ValueError:  # a line without the usual stamp: the moment is unknown
                return time.time()
    return None


def rabbit_moved_on(events: dict[str, Any]) -> bool:
    """Has the cut-off node paused in the minority and the majority elected another leader?"""
    return "minority_after_s" in events and events.get("leader_during_cut") not in (
        None, CUT_RABBIT.rabbit_name)  # fmt: skip


def run_kafka() -> dict[str, Any]:
    result = asyncio.run(kafka_side())
    result["holds"] = kafka_holds(result)
    return result


async def kafka_side() -> dict[str, Any]:
    admin = await clusters.admin_client()
    try:
        await clusters.recreate_topic(admin, KAFKA_TOPIC, KAFKA_ASSIGNMENT)
        samples: list[dict[str, Any]] = []
        events: dict[str, Any] = {}
        stop = asyncio.Event()
        started = time.monotonic()
        watching = kafka_failover.watch(admin, KAFKA_TOPIC, started, samples, stop,
                                        events=events, moment="cut")  # fmt: skip
        watcher = asyncio.create_task(watching)
        stream = Stream("all")
        await asyncio.gather(
            kafka_stream.produce(KAFKA_TOPIC, stream, KAFKA_RECORDS, KAFKA_RATE, started,
                                 request_timeout_ms=5000),
            asyncio.to_thread(cut_and_rejoin, CUT_KAFKA, started, events, KAFKA_CUT_FOR_S,
                              moved_on=lambda: kafka_moved_on(samples, events),
                              longest_s=KAFKA_LONGEST_CUT_S),
        )  # fmt: skip
        await kafka_failover.wait_in_sync(samples, 60)
        stop.set()
        await watcher
    finally:
        await admin.close()
    checked = kafka_stream.check(stream, await kafka_stream.read_all(KAFKA_TOPIC, 1))
    narration.seen(kafka_failover.read_back("acks=all", checked))
    return {"node": CUT_KAFKA.service, "events": events, "stream": checked,
            "leaderless_s": kafka_failover.leaderless_s(samples, events["cut"], 2),
            "isr_during_cut": isr_during_cut(samples, events),
            "isr_at_end": samples[-1].get("isr", []), "timeline": samples,
            "acks": kafka_failover.acked_times(stream, 0)}  # fmt: skip


def kafka_moved_on(samples: list[dict[str, Any]], events: dict[str, Any]) -> bool:
    """Has a sample since the cut shown another leader and an in-sync set without the node?"""
    cut = events.get("cut")
    return cut is not None and any(
        s["t"] > cut and s.get("leader", -1) not in (-1, CUT_KAFKA.number)
        and s.get("isr") and CUT_KAFKA.number not in s["isr"]
        for s in samples
    )  # fmt: skip


def isr_during_cut(samples: list[dict[str, Any]], events: dict[str, Any]) -> list[int]:
    during = [s for s in samples if events["cut"] < s["t"] < events["rejoined"] and "isr" in s]
    return during[-1]["isr"] if during else []


def run_rabbitmq() -> dict[str, Any]:
    result = rabbit_side()
    result["holds"] = rabbit_holds(result)
    return result


def rabbit_side() -> dict[str, Any]:
    with narration.waiting("the RabbitMQ cluster: 3 nodes running", expected_s=1):
        clusters.wait_for_rabbitmq_cluster()
    rabbitmq_stream.declare(CUT_RABBIT, RABBIT_QUEUE, rabbitmq_stream.QUORUM_ARGUMENTS)
    with narration.waiting(f"{RABBIT_QUEUE}: a leader and 3 members online", expected_s=1):
        leader_before = clusters.wait_for_quorum_members(RABBIT_PUBLISHER, RABBIT_QUEUE)["leader"]
    narration.seen(f"{RABBIT_QUEUE}: led by {leader_before}")
    traffic, events = Traffic(), {}
    done = threading.Event()
    threads = [
        threading.Thread(target=rabbitmq_stream.consume,
                         args=(RABBIT_CONSUMER, RABBIT_QUEUE, traffic, done)),
        threading.Thread(target=cut_and_rejoin,
                         args=(CUT_RABBIT, traffic.started, events, RABBIT_CUT_FOR_S,
                               observe_rabbit),
                         kwargs={"moved_on": lambda: rabbit_moved_on(events),
                                 "longest_s": RABBIT_LONGEST_CUT_S}),
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    rabbitmq_stream.publish(RABBIT_PUBLISHER, RABBIT_QUEUE, RABBIT_MESSAGES, RABBIT_RATE, traffic)
    threads[1].join()
    with narration.waiting(f"{CUT_RABBIT.service} to rejoin the RabbitMQ cluster", expected_s=5):
        clusters.wait_for_rabbitmq_cluster()
    done.set()
    threads[0].join()
    state = members_after_rejoin(traffic.started, events)
    checked = traffic.check()
    narration.seen(f"{checked['confirmed']} confirmed, {checked['delivered']} delivered, "
                   f"{checked['lost']} lost; {len(state['online'])} of 3 online")  # fmt: skip
    return {"node": CUT_RABBIT.rabbit_name, "leader_before": leader_before, "events": events,
            "traffic": traffic.check(), "leader_after": state["leader"],
            "online_after": state["online"],
            "confirms": sorted(traffic.confirmed.values()),
            "deliveries": sorted(t for _, t in traffic.delivered)}  # fmt: skip


def members_after_rejoin(
    started: float, events: dict[str, Any], timeout_s: float = MEMBERS_ONLINE_TIMEOUT_S
) -> dict[str, Any]:
    """The queue's state once its three members are online again, or as it is after
    `timeout_s`. The node sees the others again first; its queue member restarts a
    moment later (seconds on a busy machine), so one look right away can miss it."""
    with narration.waiting(
        f"{RABBIT_QUEUE}: its member on {CUT_RABBIT.service} online again", expected_s=2
    ):
        try:
            state = clusters.wait_for_quorum_members(RABBIT_PUBLISHER, RABBIT_QUEUE, timeout_s)
        except TimeoutError as exc:
            narration.seen(str(exc))
            return clusters.queue_state(RABBIT_PUBLISHER, RABBIT_QUEUE)
    events["members_online"] = round(time.monotonic() - started, 2)
    return state


def kafka_holds(kafka: dict[str, Any]) -> dict[str, bool]:
    return {
        "another node led while the leader was cut off": kafka["leaderless_s"] is not None
        and kafka["leaderless_s"] < kafka["events"]["rejoined"] - kafka["events"]["cut"],
        "the in-sync set dropped the cut-off node": CUT_KAFKA.number not in kafka["isr_during_cut"]
        and bool(kafka["isr_during_cut"]),
        "no acknowledged record lost": kafka["stream"]["acknowledged"] > 0
        and kafka["stream"]["lost"] == 0,
        "back in sync after rejoining": len(kafka["isr_at_end"]) == 3,
    }


def rabbit_holds(rabbit: dict[str, Any]) -> dict[str, bool]:
    return {
        "the cut-off node found itself in the minority and paused": rabbit["events"].get(
            "minority_after_s"
        )
        is not None,
        "the majority elected another leader": rabbit["leader_before"] == rabbit["node"]
        and rabbit["events"].get("leader_during_cut") not in (rabbit["node"], None),
        "no confirmed message lost": rabbit["traffic"]["confirmed"] > 0
        and rabbit["traffic"]["lost"] == 0,
        "all three members online after rejoining": len(rabbit["online_after"]) == 3,
    }
