"""The clusters lesson's polling loops: a node that does not answer is recorded, a bug is raised.

While the lesson kills, restarts and cuts off nodes, asking a broker fails now and
then; the loops count or record each failure and ask again. Any other exception is
a mistake in the asking and must stop the run, not be taken for a busy node.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError, RequestTimedOutError
from pika.exceptions import AMQPConnectionError

from comms_sandbox import clusters
from scenarios.clusters import (
    kafka_failover,
    kafka_min_isr,
    partition,
    rabbitmq_failover,
    rabbitmq_stream,
)

STATE = clusters.PartitionState(leader=2, isr=(2, 3), replicas=(1, 2, 3))


def answers(*replies: Any, then: Callable[[], None] = lambda: None) -> Callable[..., Any]:
    """A stand-in for one ask: each call gives the next reply (raising it if an exception),
    and calls `then` once the replies run out."""
    queue: Iterator[Any] = iter(replies)

    def ask(*_: Any, **__: Any) -> Any:
        reply = next(queue)
        if isinstance(reply, BaseException):
            raise reply
        then()
        return reply

    return ask


def asynchronous(ask: Callable[..., Any]) -> Callable[..., Any]:
    async def ask_async(*args: Any, **kwargs: Any) -> Any:
        return ask(*args, **kwargs)

    return ask_async


# ---- comms_sandbox.clusters


def test_waiting_for_the_cluster_says_how_many_asks_went_unanswered() -> None:
    async def never() -> bool:
        raise KafkaConnectionError("Unable to bootstrap from 127.0.0.1:19092")

    with pytest.raises(TimeoutError, match=r"asks unanswered, the last: KafkaConnectionError"):
        asyncio.run(clusters._wait_until(never, 0.5))


def test_waiting_for_the_cluster_raises_a_bug_at_once() -> None:
    async def broken() -> bool:
        raise KeyError("isr")

    with pytest.raises(KeyError):
        asyncio.run(clusters._wait_until(broken, 5))


def test_waiting_for_the_rabbitmq_cluster_reports_each_nodes_last_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def running_nodes(node: clusters.Node) -> list[str]:
        if node.number == 1:
            raise httpx.ConnectError("connection refused")
        return ["rabbit@rabbitmq-2", "rabbit@rabbitmq-3"]

    monkeypatch.setattr(clusters, "running_nodes", running_nodes)
    with pytest.raises(TimeoutError) as timed_out:
        clusters.wait_for_rabbitmq_cluster(timeout_s=0.2)
    assert "rabbitmq-1': \"ConnectError('connection refused')\"" in str(timed_out.value)
    assert "rabbitmq-2': \"sees ['rabbit@rabbitmq-2', 'rabbit@rabbitmq-3']\"" in str(
        timed_out.value
    )


def test_one_node_seeing_all_three_is_not_yet_a_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node just restarted is "running" to the others before it answers itself."""
    everyone = [node.rabbit_name for node in clusters.RABBITMQ_NODES.values()]

    def running_nodes(node: clusters.Node) -> list[str]:
        if node.number == 3:
            raise httpx.ConnectError("connection refused")
        return everyone

    monkeypatch.setattr(clusters, "running_nodes", running_nodes)
    with pytest.raises(TimeoutError, match="rabbitmq-3"):
        clusters.wait_for_rabbitmq_cluster(timeout_s=0.2)


def quorum_state(leader: str | None, online: int) -> dict[str, Any]:
    names = [f"rabbit@rabbitmq-{n}" for n in (1, 2, 3)]
    return {"type": "quorum", "leader": leader, "members": names, "online": names[:online],
            "messages": 0}  # fmt: skip


def test_a_quorum_queue_with_a_member_offline_is_not_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        clusters, "queue_state", lambda via, queue: quorum_state("rabbit@rabbitmq-2", 2)
    )
    with pytest.raises(TimeoutError, match="not all 3 members online"):
        clusters.wait_for_quorum_members(clusters.RABBITMQ_NODES["rabbitmq-1"], "q", timeout_s=0.2)


def test_a_quorum_queue_is_ready_with_a_leader_and_three_online(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    states = iter([httpx.ConnectError("refused"), quorum_state(None, 3),
                   quorum_state("rabbit@rabbitmq-2", 3)])  # fmt: skip

    def queue_state(via: clusters.Node, queue: str) -> dict[str, Any]:
        state = next(states)
        if isinstance(state, Exception):
            raise state
        return state

    monkeypatch.setattr(clusters, "queue_state", queue_state)
    monkeypatch.setattr(clusters.time, "sleep", lambda s: None)
    ready = clusters.wait_for_quorum_members(clusters.RABBITMQ_NODES["rabbitmq-1"], "q")
    assert ready["leader"] == "rabbit@rabbitmq-2"


# ---- the samplers of the failover and partition parts


def test_the_kafka_sampler_records_an_unanswered_ask_and_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop = asyncio.Event()
    ask = answers(NodeNotReadyError("node 1 not ready"), STATE, then=stop.set)
    monkeypatch.setattr(clusters, "partition_state", asynchronous(ask))
    monkeypatch.setattr(kafka_failover, "SAMPLE_S", 0)
    samples: list[dict[str, Any]] = []
    asyncio.run(kafka_failover.watch(None, "topic", 0.0, samples, stop))  # type: ignore[arg-type]
    assert [{k: v for k, v in s.items() if k != "t"} for s in samples] == [
        {"error": "NodeNotReadyError"},
        {"leader": 2, "isr": [2, 3]},
    ]


def test_the_kafka_sampler_raises_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clusters, "partition_state", asynchronous(answers(TypeError("bug"))))
    with pytest.raises(TypeError):
        asyncio.run(kafka_failover.watch(None, "t", 0.0, [], asyncio.Event()))  # type: ignore[arg-type]


def test_the_rabbitmq_sampler_records_an_unanswered_ask_and_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stop = threading.Event()
    leader = {"leader": "rabbit@rabbitmq-1", "online": ["rabbit@rabbitmq-1"]}
    ask = answers(httpx.ReadTimeout("busy"), leader, then=stop.set)
    monkeypatch.setattr(clusters, "queue_state", ask)
    monkeypatch.setattr(rabbitmq_failover, "SAMPLE_S", 0)
    samples: list[dict[str, Any]] = []
    rabbitmq_failover.leader_samples(0.0, samples, stop)
    assert [{k: v for k, v in s.items() if k != "t"} for s in samples] == [
        {"error": "ReadTimeout"},
        leader,
    ]


def test_the_rabbitmq_sampler_raises_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clusters, "queue_state", answers(KeyError("leader")))
    with pytest.raises(KeyError):
        rabbitmq_failover.leader_samples(0.0, [], threading.Event())


def test_watching_the_majority_counts_its_unanswered_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    busy = answers(httpx.ReadTimeout("electing"), httpx.ReadTimeout("electing"))
    monkeypatch.setattr(clusters, "running_nodes", busy)
    led = {"leader": "rabbit@rabbitmq-1"}
    monkeypatch.setattr(clusters, "queue_state", answers(httpx.ConnectError("electing"), led, led))
    monkeypatch.setattr(partition.docker, "logs", lambda *_, **__: "")
    monkeypatch.setattr(partition, "accepts_clients", lambda _: True)
    monkeypatch.setattr(clusters.Node, "container", property(lambda self: self.service))
    events: dict[str, Any] = {"cut_at_utc": "2026-12-01T00:00:00+00:00"}
    partition.observe_rabbit(events, 1.0)
    partition.observe_rabbit(events, 2.0)
    assert events["majority_unanswered"] == {"leader: ConnectError": 1, "nodes: ReadTimeout": 2}
    # the hanging /api/nodes did not hide the leader
    assert events["leader_during_cut"] == "rabbit@rabbitmq-1"
    monkeypatch.setattr(clusters, "running_nodes", answers(AttributeError("bug")))
    with pytest.raises(AttributeError):
        partition.observe_rabbit(events, 3.0)


def test_waiting_for_the_isr_counts_its_unanswered_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    ask = answers(KafkaConnectionError("node 1 stopping"), [2, 3])
    monkeypatch.setattr(kafka_min_isr, "isr_now", asynchronous(ask))
    unanswered: Counter[str] = Counter()
    assert asyncio.run(kafka_min_isr.wait_for_isr("t", [2, 3], unanswered, 5)) == [2, 3]
    assert unanswered == {"KafkaConnectionError": 1}


# ---- the consumer that records what the cluster delivered


class FakeChannel:
    """A channel whose consume() yields the given deliveries, then raises `then` (or
    stays quiet)."""

    def __init__(self, message_ids: list[str], then: Exception | None) -> None:
        self.message_ids, self.then = message_ids, then

    def basic_qos(self, prefetch_count: int) -> None:
        pass

    def consume(self, queue: str, inactivity_timeout: float) -> Iterator[Any]:
        for message_id in self.message_ids:
            method = type("Deliver", (), {"delivery_tag": 1})
            yield method, type("Properties", (), {"message_id": message_id}), b""
        if self.then is not None:
            raise self.then
        while True:
            yield None, None, None

    def basic_ack(self, delivery_tag: object) -> None:
        pass

    def cancel(self) -> None:
        pass


def test_the_consumer_connects_again_after_its_node_went_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Else every message confirmed after the break would count as lost."""
    channels = iter([FakeChannel(["m0"], then=AMQPConnectionError("gone")),
                     FakeChannel(["m1", "m2"], then=None)])  # fmt: skip
    connection = type("Connection", (), {"channel": lambda self: next(channels)})
    monkeypatch.setattr(rabbitmq_stream, "connect", lambda url, name, retry_for_s: connection())
    monkeypatch.setattr(rabbitmq_stream, "close_quietly", lambda connection: None)
    monkeypatch.setattr(rabbitmq_stream.time, "sleep", lambda s: None)
    traffic, done = rabbitmq_stream.Traffic(), threading.Event()
    done.set()
    rabbitmq_stream.consume(clusters.RABBITMQ_NODES["rabbitmq-3"], "q", traffic, done)
    assert [message_id for message_id, _ in traffic.delivered] == ["m0", "m1", "m2"]
    assert traffic.check()["consumer_errors"] == {"AMQPConnectionError": 1}


class SlowController:
    """An admin client whose controller leaves the first CreateTopics unanswered."""

    def __init__(self) -> None:
        self.creates = 0
        self.topics: set[str] = set()

    async def list_topics(self) -> list[str]:
        return sorted(self.topics)

    async def create_topics(self, new: list[Any]) -> None:
        self.creates += 1
        if self.creates == 1:
            raise RequestTimedOutError()
        self.topics.add(new[0].name)

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        partition = {"partition": 0, "leader": 1, "isr": [1, 2, 3], "replicas": [1, 2, 3]}
        return [{"error_code": 0, "partitions": [partition]}]


def test_a_create_topics_left_unanswered_is_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a busy machine, a cluster just started left one CreateTopics unanswered (3 s)."""
    admin = SlowController()
    asyncio.run(clusters.recreate_topic(admin, "t", {0: [1, 2, 3]}))  # type: ignore[arg-type]
    assert admin.creates == 2 and admin.topics == {"t"}
