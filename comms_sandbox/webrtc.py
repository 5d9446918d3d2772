"""The WebRTC lesson from the host: run the lesson's Python peers, talk over the signaling path.

Peers are one-shot containers (`docker compose run rtc-peer-a|b`, services/rtcpeer/),
each printing one JSON report. The server path is a WebSocket through nginx
to the api (/signal/ws): the same short messages the data channel carries,
but through nginx, an api replica, Redis, an api replica and nginx again.
"""

from __future__ import annotations

import json
import threading
import time
from functools import cache
from typing import Any

from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from comms_sandbox import config, docker
from comms_sandbox.compose import compose

ANSWERER_HEAD_START_S = 3.0  # usually joined by then; the caller offers again until it has
# A peer gives up after 120 s (services/rtcpeer: RUN_WITHIN_S); the container's
# start and removal come on top.
PEER_RUN_TIMEOUT_S = 180


@cache
def build_peer_image() -> None:
    """Build the peers' image once per process (cached layers: a second or two), so a
    change to services/rtcpeer runs, not the image `compose run` built the first time."""
    result = compose("--profile", "tools", "build", "--quiet", "rtc-peer-a", capture=True)
    if result.returncode != 0:
        raise RuntimeError(f"building the WebRTC peers' image failed:\n{result.stderr}")


def run_peer(service: str, *args: str) -> dict[str, Any]:
    """One peer's run (`docker compose run --rm SERVICE ARGS`), its JSON report."""
    build_peer_image()
    result = compose("--profile", "tools", "run", "--rm", "--no-deps", service, *args,
                     capture=True, timeout=PEER_RUN_TIMEOUT_S)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"{service} {' '.join(args)} failed:\n{result.stderr[-1500:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def peer_pair(caller: str, answerer: str, room: str, messages: int,
              *extra: str) -> dict[str, Any]:  # fmt: skip
    """An answering peer, then a calling one a moment later (with `extra` arguments); both
    reports."""
    reports: dict[str, Any] = {}

    def answer() -> None:
        reports["answerer"] = run_peer(answerer, "--room", room, "--peer", "bob", "--answer")

    answering = threading.Thread(target=answer)
    answering.start()
    time.sleep(ANSWERER_HEAD_START_S)
    reports["caller"] = run_peer(caller, "--room", room, "--peer", "alice", "--call", "bob",
                                 "--messages", str(messages), *extra)  # fmt: skip
    answering.join(timeout=30)
    return reports


# The api answers "joined" and "peer-joined" at once; a wait this long means it never will,
# and the run fails with a TimeoutError instead of hanging.
JOIN_TIMEOUT_S = 10


CONNECT_TRIES = 2


def connect(url: str, **options: Any) -> ClientConnection:
    """A signaling WebSocket through nginx. A handshake that times out was seen three
    times in clean-clone runs while the other test lane loaded the machine (the answer
    never came; nginx and the replicas looked healthy, and the next run of the same
    scenario passed): as a client would, it is tried once more, and what nginx logged
    about /signal/ws and the replicas' health are printed, to find out why; a second
    time out fails with them."""
    for _ in range(CONNECT_TRIES - 1):
        try:
            return ws_connect(url, **options)
        except TimeoutError as error:
            print(f"signaling: the handshake timed out, trying again ({error}; "
                  f"{signaling_diagnosis()})")  # fmt: skip
    try:
        return ws_connect(url, **options)
    except TimeoutError as error:
        raise TimeoutError(f"{error}; {signaling_diagnosis()}") from error


def signaling_diagnosis() -> str:
    proxy = docker.containers("proxy")[0].name
    # Not the once-a-second "could not be resolved" of lessons that are not running.
    logged = [line for line in "\n".join(docker.log_streams(proxy, "90s")).splitlines()
              if ("/signal/ws" in line or "[error]" in line)
              and "could not be resolved" not in line][-8:]  # fmt: skip
    health = {c.name: docker.inspect(c.name, "{{.State.Status}} {{.State.Health.Status}}")
              .strip() for c in docker.containers("api")}  # fmt: skip
    return f"api replicas: {health}; nginx, last 90 s: {logged}"


def signal_url(room: str, peer: str) -> str:
    return f"{config.proxy_url().replace('https', 'wss')}/signal/ws?room={room}&peer={peer}"


def server_path_rtts(room: str, messages: int) -> dict[str, Any]:
    """Round trips of `messages` short texts between two WebSocket clients through the api."""
    context = config.tls_context()
    with connect(signal_url(room, "ws-b"), ssl=context) as b:
        joined_b = json.loads(b.recv(timeout=JOIN_TIMEOUT_S))
        with connect(signal_url(room, "ws-a"), ssl=context) as a:
            joined_a = json.loads(a.recv(timeout=JOIN_TIMEOUT_S))
            b.recv(timeout=JOIN_TIMEOUT_S)  # peer-joined
            rtts = []
            for n in range(messages):
                sent = time.perf_counter()
                a.send(json.dumps({"type": "message", "to": "ws-b", "data": f"ping:{n}"}))
                note = json.loads(b.recv(timeout=5))
                b.send(json.dumps({"type": "message", "to": "ws-a",
                                   "data": note["data"].replace("ping", "pong")}))  # fmt: skip
                json.loads(a.recv(timeout=5))
                rtts.append((time.perf_counter() - sent) * 1000)
    return {"rtts_ms": rtts, "replicas": sorted({joined_a["served_by"], joined_b["served_by"]})}


def exchange(room: str, peer: str, frames: list[str]) -> list[dict[str, Any]]:
    """Send raw frames as `peer` (the other side is a listening peer `listener`); the answers."""
    context = config.tls_context()
    answers = []
    with connect(signal_url(room, "listener"), ssl=context) as listener:
        listener.recv(timeout=JOIN_TIMEOUT_S)
        with connect(signal_url(room, peer), ssl=context) as sender:
            sender.recv(timeout=JOIN_TIMEOUT_S)
            listener.recv(timeout=JOIN_TIMEOUT_S)  # peer-joined
            for frame in frames:
                sender.send(frame)
                answers.append(json.loads(sender.recv(timeout=5)))
        leaked = []
        try:
            while True:
                message = json.loads(listener.recv(timeout=1))
                if message["type"] not in ("peer-left",):
                    leaked.append(message)
        except TimeoutError:
            pass
    return [*answers, {"type": "reached the other peer", "messages": leaked}]


def server_path_burst(room: str, count: int) -> dict[str, Any]:
    """count 1 KiB notes from one WebSocket client to another through the api: notes/s."""
    context = config.tls_context()
    payload = "x" * 1000
    with connect(signal_url(room, "ws-b"), ssl=context) as b:
        b.recv(timeout=JOIN_TIMEOUT_S)
        with connect(signal_url(room, "ws-a"), ssl=context) as a:
            a.recv(timeout=JOIN_TIMEOUT_S)
            b.recv(timeout=JOIN_TIMEOUT_S)  # peer-joined
            started = time.perf_counter()
            for n in range(count):
                a.send(json.dumps({"type": "message", "to": "ws-b", "data": f"{n}:{payload}"}))
            received = sum(1 for _ in range(count) if json.loads(b.recv(timeout=10)))
            seconds = time.perf_counter() - started
    return {"sent": count, "received": received, "per_s": round(count / seconds, 1)}
