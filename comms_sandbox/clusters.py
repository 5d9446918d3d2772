"""The lesson's clusters from the host: three Kafka nodes and three RabbitMQ nodes.

Which node is which (service, container, published port), what each cluster
says about itself (a partition's leader and in-sync replicas, a quorum
queue's leader and members, the nodes a RabbitMQ node sees), and the hands
the lesson uses on them: kill, stop, start, cut off from the network, put back.
Everything here asks the brokers themselves; nothing is inferred.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from comms_sandbox import docker
from comms_sandbox.compose import compose_file
from comms_sandbox.credentials import setting
from comms_sandbox.health import SandboxNotUpError
from comms_sandbox.ports import HOST, KAFKA_CLUSTER, RABBITMQ_CLUSTER, RABBITMQ_CLUSTER_UI

NETWORK = "cluster"  # compose.yaml's network of the cluster nodes
RABBITMQ_VHOST = "cluster"
RABBITMQ_USER = "sandbox-cluster"


@dataclass(frozen=True)
class Node:
    """One node of a cluster: Kafka's node id or RabbitMQ's node number."""

    number: int
    service: str  # kafka-1, rabbitmq-2: also its hostname on the cluster network
    port: int  # its published client port on 127.0.0.1

    @property
    def container(self) -> str:
        return docker.containers(self.service)[0].name

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def rabbit_name(self) -> str:
        return f"rabbit@{self.service}"


KAFKA_NODES = {p.service: Node(int(p.service[-1]), p.service, p.port) for p in KAFKA_CLUSTER}
RABBITMQ_NODES = {p.service: Node(int(p.service[-1]), p.service, p.port) for p in RABBITMQ_CLUSTER}
UI_PORTS = {p.service: p.port for p in RABBITMQ_CLUSTER_UI}
SERVICES = (*KAFKA_NODES, *RABBITMQ_NODES)


class PartitionNotListedError(LookupError):
    """A live broker's metadata does not list the partition (a topic still being made)."""


# What asking a cluster meets while the lesson kills, restarts or cuts off its nodes:
# a node that does not answer, or answers with an error. A poll records these and asks
# again; anything else is a bug in the asking, and is raised.
KAFKA_UNANSWERED = (KafkaError, PartitionNotListedError, ConnectionError, TimeoutError)
RABBITMQ_UNANSWERED = (httpx.HTTPError,)


def kafka_node(node_id: int) -> Node:
    return KAFKA_NODES[f"kafka-{node_id}"]


def kafka_bootstrap() -> str:
    """Every node: a client that finds one of them alive learns the others from it."""
    return ",".join(node.address for node in KAFKA_NODES.values())


def network() -> str:
    """The cluster network's name as Docker knows it (prefixed with the project's)."""
    return f"{compose_file()['name']}_{NETWORK}"


def cut_off(node: Node) -> None:
    """Disconnect the node from the cluster network: it runs on, alone."""
    docker.disconnect(network(), node.container)


def reconnect(node: Node) -> None:
    docker.connect(network(), node.container, (node.service,))


def heal(lesson: str, services: tuple[str, ...] = SERVICES) -> None:
    """Every node running, on the cluster network, healthy: undo what an interrupted run left.

    SandboxNotUpError when no node runs at all: the lesson is not started.
    """
    every = {**KAFKA_NODES, **RABBITMQ_NODES}
    nodes = {every[service]: docker.containers(service) for service in services}
    if not any(c and c[0].state == "running" for c in nodes.values()):
        raise SandboxNotUpError(
            f"the cluster nodes are not running: start the lesson with `make up LESSON={lesson}`."
        )
    for node, found in nodes.items():
        if network() not in docker.inspect(found[0].name, "{{json .NetworkSettings.Networks}}"):
            reconnect(node)
        if found[0].state != "running":
            docker.start(found[0].name)
    for found in nodes.values():
        docker.wait_healthy(found[0].name, 120)


# ---- Kafka: what the cluster's metadata says.


async def admin_client() -> AIOKafkaAdminClient:
    """An admin client on every node, started; close() it when done."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap(), request_timeout_ms=3000)
    await admin.start()
    return admin


@dataclass(frozen=True)
class PartitionState:
    leader: int  # -1: no leader
    isr: tuple[int, ...]
    replicas: tuple[int, ...]


async def partition_state(admin: AIOKafkaAdminClient, topic: str, partition: int) -> PartitionState:
    """The partition's leader and in-sync replicas as a live broker's metadata has them."""
    (described,) = await admin.describe_topics([topic])
    for p in described["partitions"]:
        if p["partition"] == partition:
            return PartitionState(p["leader"], tuple(sorted(p["isr"])), tuple(p["replicas"]))
    raise PartitionNotListedError(f"{topic} has no partition {partition}")


async def recreate_topic(admin: AIOKafkaAdminClient, topic: str,
                         assignment: dict[int, list[int]]) -> None:  # fmt: skip
    """A fresh topic with the given replicas per partition (the first one leads).

    Deleting first makes each run count only its own records.
    """
    if topic in await admin.list_topics():
        await _until_answered(lambda: admin.delete_topics([topic]), 30)
        await _wait_until(lambda: _absent(admin, topic), 30)
    new = NewTopic(topic, -1, -1, replica_assignments=assignment)
    await _until_answered(lambda: admin.create_topics([new]), 30)
    await _wait_until(lambda: _all_led(admin, topic, len(assignment)), 30)


async def _until_answered(request: Any, timeout_s: float) -> None:
    """Send the admin request again while the controller does not answer (3 s each): on
    a busy machine a cluster just started once left a CreateTopics unanswered. Sent
    twice, it is still one topic: the second answer says it exists, which is not raised,
    and the caller waits for the state it wants."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await request()
            return
        except KAFKA_UNANSWERED:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(0.5)


async def _absent(admin: AIOKafkaAdminClient, topic: str) -> bool:
    return topic not in await admin.list_topics()


async def _all_led(admin: AIOKafkaAdminClient, topic: str, partitions: int) -> bool:
    (described,) = await admin.describe_topics([topic])
    led = [p for p in described["partitions"]
           if p["leader"] >= 0 and len(p["isr"]) == len(p["replicas"])]  # fmt: skip
    return described["error_code"] == 0 and len(led) == partitions


async def _wait_until(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    unanswered: list[str] = []
    while time.monotonic() < deadline:
        try:
            if await check():
                return
        except KAFKA_UNANSWERED as error:  # a node may be coming up: ask again
            unanswered.append(repr(error))
        await asyncio.sleep(0.2)
    raise TimeoutError(
        f"cluster not ready within {timeout_s} s; {len(unanswered)} asks unanswered"
        + (f", the last: {unanswered[-1]}" if unanswered else "")
    )


# ---- RabbitMQ: what the nodes' management API says.


def rabbitmq_password() -> str:
    return setting("RABBITMQ_CLUSTER_PASSWORD")


def amqp_url(node: Node) -> str:
    return f"amqp://{RABBITMQ_USER}:{rabbitmq_password()}@{node.address}/{RABBITMQ_VHOST}"


def ui_url(node: Node) -> str:
    return f"http://{HOST}:{UI_PORTS[node.service]}"


def management(node: Node, path: str, timeout_s: float = 3.0) -> Any:
    """GET /api/PATH from one node's management API, as the lesson's monitoring user."""
    response = httpx.get(f"{ui_url(node)}/api/{path}", auth=(RABBITMQ_USER, rabbitmq_password()),
                         timeout=timeout_s)  # fmt: skip
    response.raise_for_status()
    return response.json()


def running_nodes(via: Node) -> list[str]:
    """The cluster's nodes that `via` sees running."""
    return sorted(n["name"] for n in management(via, "nodes") if n.get("running"))


def queue_state(via: Node, queue: str) -> dict[str, Any]:
    """A queue's type, leader and members (quorum) or home node (classic), as `via` sees it."""
    info = management(via, f"queues/{RABBITMQ_VHOST}/{quote(queue, safe='')}")
    return {
        "type": info.get("type"),
        "leader": info.get("leader") or info.get("node"),
        "members": sorted(info.get("members") or []),
        "online": sorted(info.get("online") or []),
        "messages": info.get("messages"),
    }


def wait_for_rabbitmq_cluster(timeout_s: float = 60) -> None:
    """Until every node sees all three running (the lesson's healthchecks see one node
    each). One node's view is not enough: a node just restarted is "running" to the
    others before it answers, and a queue declared then may start without its member."""
    deadline = time.monotonic() + timeout_s
    want = sorted(node.rabbit_name for node in RABBITMQ_NODES.values())
    seen: dict[str, str] = {}  # per node: what it last answered, or its error
    while True:  # every node asked at least once, however busy the machine
        for node in RABBITMQ_NODES.values():
            try:
                running = running_nodes(node)
            except RABBITMQ_UNANSWERED as error:  # a node may be coming up: ask again
                seen[node.service] = repr(error)
                continue
            seen[node.service] = "sees all" if running == want else f"sees {running}"
        if set(seen.values()) == {"sees all"}:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    raise TimeoutError(
        f"the RabbitMQ nodes did not form one cluster within {timeout_s} s; last answers: {seen}"
    )


# A precondition, not a verdict: a node that another part just cut off or killed may
# need minutes on a busy machine before a fresh queue's member on it is online (ci-30:
# rabbitmq-2 still offline after 30 s). How long it took is not what is measured.
MEMBERS_ONLINE_S = 150.0


def wait_for_quorum_members(
    via: Node, queue: str, timeout_s: float = MEMBERS_ONLINE_S
) -> dict[str, Any]:
    """Until the quorum queue has a leader and all three members online, as `via` sees it;
    its state then. A partition or a kill tried with a member missing shows a cluster
    that has no majority left, not the failover the lesson is about."""
    deadline = time.monotonic() + timeout_s
    state: dict[str, Any] | str = "no answer yet"
    while True:  # asked at least once, however busy the machine
        try:
            state = queue_state(via, queue)
        except RABBITMQ_UNANSWERED as error:
            state = repr(error)
        else:
            if state["leader"] and len(state["online"]) == len(RABBITMQ_NODES):
                return state
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    raise TimeoutError(f"{queue}: not all {len(RABBITMQ_NODES)} members online within "
                       f"{timeout_s} s; last seen: {state}")  # fmt: skip
