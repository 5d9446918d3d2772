"""RabbitMQ: the node leading a quorum queue killed while messages flow.

A quorum queue with a member on each node, its leader on rabbitmq-3; a
publisher with confirms on rabbitmq-1 and a consumer with manual acks on
rabbitmq-2, 150 messages/s. At KILL_AT_S the leader's node is killed
(SIGKILL) and DOWN_S later started again. Meanwhile rabbitmq-1's management
API is asked every 0.25 s who leads the queue. Every confirmed message must
reach the consumer. For contrast, a classic queue declared on rabbitmq-3
lives only there: while that node is down, asking for it from another node
gets an error instead of messages.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pika.exceptions import AMQPChannelError, AMQPConnectionError

from comms_sandbox import clusters, docker
from order_events.rabbit import close_quietly, connect
from scenarios import narration
from scenarios.clusters import rabbitmq_stream
from scenarios.clusters.rabbitmq_stream import Traffic

QUORUM = "cluster.failover.quorum"
CLASSIC = "cluster.failover.classic"
VICTIM, PUBLISHER, CONSUMER = (clusters.RABBITMQ_NODES[f"rabbitmq-{n}"] for n in (3, 1, 2))
MESSAGES = 1200
RATE = 150.0
KILL_AT_S = 2.0
DOWN_S = 6.0
SAMPLE_S = 0.25
# A few seconds idle; a clean clone beside the other lane on a busy machine (ci-20) once
# needed more than 60 s. The verdict is that they come back, not how fast.
BACK_ONLINE_S = 150.0


def leader_samples(started: float, samples: list[dict[str, Any]], stop: threading.Event,
                   events: dict[str, Any] | None = None) -> None:  # fmt: skip
    while not stop.is_set():
        t = round(time.monotonic() - started, 2)
        try:
            state = clusters.queue_state(PUBLISHER, QUORUM)
            samples.append({"t": t, "leader": state["leader"], "online": state["online"]})
            tell_change(samples, (events or {}).get("killed"))
        except clusters.RABBITMQ_UNANSWERED as error:  # busy while the cluster reacts
            samples.append({"t": t, "error": type(error).__name__})
        stop.wait(SAMPLE_S)


def tell_change(samples: list[dict[str, Any]], killed: float | None) -> None:
    """Narrate what the last sample changed: the quorum queue's leader, its members online."""
    before = next((s for s in reversed(samples[:-1]) if "leader" in s), None)
    now = samples[-1]
    if before is None or now["leader"] != before["leader"]:
        after = f", {now['t'] - killed:.1f} s after the kill" if killed is not None else ""
        leader = f"led by {now['leader']}" if now["leader"] else "no leader"
        narration.seen(f"{QUORUM}: {leader}{after}")
    if before is None or sorted(now["online"]) != sorted(before["online"]):
        narration.seen(f"{QUORUM}: {len(now['online'])} of 3 members online")


def classic_queue_answer(via: clusters.Node) -> str:
    """What a passive declare of the classic queue gets through `via`: its count, or the error."""
    connection = connect(clusters.amqp_url(via), "lesson-clusters-classic", retry_for_s=10)
    try:
        declared = connection.channel().queue_declare(CLASSIC, passive=True)
        return f"available, {declared.method.message_count} messages"
    except (AMQPChannelError, AMQPConnectionError) as error:
        return str(error)
    finally:
        close_quietly(connection)


def kill_and_restart(started: float, events: dict[str, Any]) -> None:
    time.sleep(KILL_AT_S)
    events["killed"] = round(time.monotonic() - started, 2)
    narration.step(f"SIGKILL to {VICTIM.service}, the quorum queue's leader")
    docker.kill(VICTIM.container)
    events["classic_queue_while_down"] = classic_queue_answer(PUBLISHER)
    narration.seen(f"classic queue on {VICTIM.service}: {events['classic_queue_while_down']}")
    time.sleep(max(0.0, events["killed"] + DOWN_S - (time.monotonic() - started)))
    events["restarted"] = round(time.monotonic() - started, 2)
    narration.step(f"{VICTIM.service} started again")
    docker.start(VICTIM.container)
    with narration.waiting(f"{VICTIM.service} healthy", expected_s=10):
        docker.wait_healthy(VICTIM.container, BACK_ONLINE_S)
    events["classic_queue_after_restart"] = classic_queue_answer(PUBLISHER)
    narration.seen(f"classic queue after the restart: {events['classic_queue_after_restart']}")


def prepare() -> str:
    """Fresh queues; the quorum queue's leader as the cluster reports it."""
    with narration.waiting("the RabbitMQ cluster: 3 nodes running", expected_s=1):
        clusters.wait_for_rabbitmq_cluster()
    narration.step(f"fresh quorum queue {QUORUM} (3 members) and classic queue {CLASSIC} "
                   f"on {VICTIM.service}")  # fmt: skip
    rabbitmq_stream.declare(VICTIM, QUORUM, rabbitmq_stream.QUORUM_ARGUMENTS)
    rabbitmq_stream.declare(VICTIM, CLASSIC, {})
    rabbitmq_stream.publish(VICTIM, CLASSIC, 10, 1000.0, Traffic())
    with narration.waiting(f"{QUORUM}: a leader and 3 members online", expected_s=1):
        return clusters.wait_for_quorum_members(PUBLISHER, QUORUM)["leader"]


def run() -> dict[str, Any]:
    leader_before = prepare()
    traffic, events, samples = Traffic(), {}, []
    stop, done = threading.Event(), threading.Event()
    started = traffic.started
    threads = [
        threading.Thread(target=leader_samples, args=(started, samples, stop, events)),
        threading.Thread(target=rabbitmq_stream.consume,
                         args=(CONSUMER, QUORUM, traffic, done)),
        threading.Thread(target=kill_and_restart, args=(started, events)),
    ]  # fmt: skip
    for thread in threads:
        thread.start()
    rabbitmq_stream.publish(PUBLISHER, QUORUM, MESSAGES, RATE, traffic)
    threads[2].join()
    wait_all_online(samples)
    done.set()
    stop.set()
    for thread in threads:
        thread.join()
    checked = traffic.check()
    narration.seen(f"{checked['confirmed']} confirmed, {checked['delivered']} delivered, "
                   f"{checked['lost']} lost")  # fmt: skip
    return measured(leader_before, traffic, events, samples)


def wait_all_online(samples: list[dict[str, Any]]) -> None:
    deadline = time.monotonic() + BACK_ONLINE_S
    with narration.waiting("all 3 members of the quorum queue online", expected_s=2):
        while time.monotonic() < deadline and len(samples[-1].get("online", ())) < 3:
            time.sleep(SAMPLE_S)


def measured(leader_before: str, traffic: Traffic, events: dict[str, Any],
             samples: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    result = {
        "leader_before": leader_before,
        "victim": VICTIM.rabbit_name,
        "events": events,
        "traffic": traffic.check(),
        "new_leader": new_leader(samples, events["killed"], VICTIM.rabbit_name),
        "timeline": samples,
        "confirms": sorted(traffic.confirmed.values()),
        "deliveries": sorted(t for _, t in traffic.delivered),
    }
    result["holds"] = holds(result)
    return result


def new_leader(samples: list[dict[str, Any]], killed_at: float, victim: str) -> dict[str, Any]:
    """The first leader other than the killed node, and seconds from the kill (None: never)."""
    for sample in samples:
        if sample["t"] >= killed_at and sample.get("leader") not in (victim, None):
            return {"node": sample["leader"], "after_s": round(sample["t"] - killed_at, 2)}
    return {"node": None, "after_s": None}


def holds(result: dict[str, Any]) -> dict[str, bool]:
    traffic = result["traffic"]
    return {
        "the killed node led the quorum queue": result["leader_before"] == result["victim"],
        "no confirmed message lost": traffic["confirmed"] > 0 and traffic["lost"] == 0,
        "another node took over as leader": result["new_leader"]["node"] is not None,
        "the classic queue was unavailable while its node was down": not result["events"][
            "classic_queue_while_down"
        ].startswith("available"),
        "all three members online again": len(result["timeline"][-1].get("online", ())) == 3,
    }
