"""Stateful against stateless: a login and a cart kept in one replica's memory, or in Redis.

Under round robin, a session kept in a replica's memory is found only when a
request happens to land on that replica: the others answer 401. Kept in
Redis, every replica finds it. Sticky routing (`hash $cookie_client
consistent`: each client sends a cookie of its own) brings memory sessions
back, until the replica a client is pinned to dies, or a replica is added
and the hash ring hands some clients to it: those sessions are lost.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from comms_sandbox import docker, proxies
from comms_sandbox.ports import EDGE, HOST

CLIENTS = 40  # enough that a ring change moves some (1 in 4 moves: 0.75^40 that none does)
ITEMS = ("espresso", "cortado", "filter")
DNS_SETTLE_S = 2.5  # the edge re-resolves catalog every second (resolver valid=1s)


def run() -> dict[str, Any]:
    found = {
        "memory, round robin": shop("/sessions/memory"),
        "Redis, round robin": shop("/sessions/redis"),
        "memory, sticky": shop("/sticky/sessions/memory"),
    }
    pinned = [login_and_fill("/sticky/sessions/memory", f"dies-{n}") for n in range(CLIENTS)]
    shared = [login_and_fill("/sessions/redis", f"shared-{n}") for n in range(CLIENTS)]
    with one_replica_killed() as killed:
        found["memory, sticky, a replica killed"] = read_carts(pinned)
        found["Redis, round robin, a replica killed"] = read_carts(shared)
    pinned = [login_and_fill("/sticky/sessions/memory", f"grows-{n}") for n in range(CLIENTS)]
    with one_replica_added():
        found["memory, sticky, a replica added"] = read_carts(pinned)
    return {"clients": CLIENTS, "items": len(ITEMS), "killed": killed, "cases": found,
            "holds": holds(found)}  # fmt: skip


def client(name: str) -> httpx.Client:
    """A browser-like client: its own cookie jar, with the `client` cookie sticky routing hashes."""
    jar = httpx.Cookies()
    jar.set("client", f"{name}-{uuid.uuid4().hex[:8]}")
    return httpx.Client(base_url=f"http://{HOST}:{EDGE.port}", cookies=jar, timeout=10)


def login_and_fill(prefix: str, name: str) -> dict[str, Any]:
    """Log in and put ITEMS in the cart; what each answer was."""
    http = client(name)
    statuses = [http.post(f"{prefix}/login", json={"user": name}).status_code]
    statuses += [http.post(f"{prefix}/cart", json={"item": item}).status_code for item in ITEMS]
    return {"prefix": prefix, "http": http, "statuses": statuses}


def read_carts(shoppers: list[dict[str, Any]]) -> dict[str, Any]:
    """Each shopper's cart read back: 401 (session unknown here) or how many items it holds."""
    unauthorized = lost = 0
    for shopper in shoppers:
        response = shopper["http"].get(f"{shopper['prefix']}/cart")
        shopper["http"].close()
        unauthorized += response.status_code == 401
        lost += response.status_code != 200 or len(response.json()["items"]) != len(ITEMS)
    return {"shoppers": len(shoppers), "401s": unauthorized, "carts lost": lost}


def shop(prefix: str) -> dict[str, Any]:
    """CLIENTS shoppers log in, fill their carts and read them back."""
    shoppers = [login_and_fill(prefix, f"shopper-{n}") for n in range(CLIENTS)]
    filling_401s = sum(s["statuses"].count(401) for s in shoppers)
    read = read_carts(shoppers)
    return {**read, "401s": read["401s"] + filling_401s}


@contextmanager
def one_replica_killed() -> Iterator[str]:
    """The last catalog replica SIGKILLed, as a crash would; started again after."""
    name = proxies.replicas()[-1]
    docker.kill(name)
    time.sleep(DNS_SETTLE_S)
    try:
        yield name
    finally:
        docker.start(name)
        docker.wait_healthy(name)


@contextmanager
def one_replica_added() -> Iterator[None]:
    replicas = len(proxies.replicas())
    docker.scale("catalog", replicas + 1)
    time.sleep(DNS_SETTLE_S)
    try:
        yield
    finally:
        docker.scale("catalog", replicas)


def holds(cases: dict[str, dict[str, Any]]) -> dict[str, bool]:
    def lost(case: str) -> int:
        return cases[case]["carts lost"] + cases[case]["401s"]

    return {
        "memory sessions under round robin get 401s": cases["memory, round robin"]["401s"] > 0,
        "Redis sessions under round robin lose nothing, even with a replica killed":
            lost("Redis, round robin") == 0 and lost("Redis, round robin, a replica killed") == 0,
        "sticky routing keeps memory sessions while every replica lives":
            lost("memory, sticky") == 0,
        "sticky memory sessions are lost when their replica dies, or a replica is added":
            cases["memory, sticky, a replica killed"]["carts lost"] > 0
            and cases["memory, sticky, a replica added"]["carts lost"] > 0,
    }  # fmt: skip
