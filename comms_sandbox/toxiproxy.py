"""Toxiproxy's HTTP API on the host (network faults): proxies, toxics, and cleaning up.

Faults are toxics on a proxy (latency, reset_peer, slow_close, bandwidth,
timeout...) or a disabled proxy (a partition: connections refused, open ones
cut). `clean()` wraps a run: every toxic removed and every proxy enabled
before it starts and after it ends, however it ends.

Two Toxiproxies run in the sandbox, each a lesson's own: network-faults'
(TOXIPROXY, the default) and idempotency-and-outbox's (ORDERS_TOXIPROXY);
every call names which with `at`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from comms_sandbox.health import url_answers
from comms_sandbox.ports import HOST, TOXIPROXY, PublishedPort


def api_url(at: PublishedPort = TOXIPROXY) -> str:
    return f"http://{HOST}:{at.port}"


def _call(method: str, path: str, body: dict[str, Any] | None = None,
          at: PublishedPort = TOXIPROXY) -> Any:  # fmt: skip
    response = httpx.request(method, f"{api_url(at)}{path}", json=body, timeout=5)
    response.raise_for_status()
    return response.json() if response.content else None


def proxies(at: PublishedPort = TOXIPROXY) -> dict[str, dict[str, Any]]:
    """Every proxy by name: listen, upstream, enabled, and its toxics."""
    return _call("GET", "/proxies", at=at)


def add_toxic(
    proxy: str, name: str, kind: str, attributes: dict[str, Any], *, stream: str = "downstream",
    at: PublishedPort = TOXIPROXY,
) -> None:  # fmt: skip
    """A toxic on `proxy` (downstream: the dependency's answers; upstream: the requests)."""
    _call("POST", f"/proxies/{proxy}/toxics",
          {"name": name, "type": kind, "stream": stream, "toxicity": 1.0,
           "attributes": attributes}, at=at)  # fmt: skip


def remove_toxic(proxy: str, name: str, at: PublishedPort = TOXIPROXY) -> None:
    _call("DELETE", f"/proxies/{proxy}/toxics/{name}", at=at)


def set_enabled(proxy: str, enabled: bool) -> None:
    """Disabled: the proxy refuses new connections and closes the open ones (a partition)."""
    _call("POST", f"/proxies/{proxy}", {"enabled": enabled})


def reset(at: PublishedPort = TOXIPROXY) -> None:
    """Every proxy enabled, every toxic removed (Toxiproxy's own /reset)."""
    _call("POST", "/reset", at=at)


def leftovers(at: PublishedPort = TOXIPROXY) -> list[str]:
    """What is still configured: disabled proxies and remaining toxics; [] when clean."""
    found = []
    for name, proxy in proxies(at).items():
        if not proxy["enabled"]:
            found.append(f"{name}: disabled")
        found += [f"{name}: toxic {toxic['name']}" for toxic in proxy.get("toxics", [])]
    return found


@contextmanager
def clean(at: PublishedPort = TOXIPROXY) -> Iterator[None]:
    """A run that starts with no fault and leaves none, even when it stops early."""
    reset(at)
    try:
        yield
    finally:
        reset(at)


@contextmanager
def toxic(
    proxy: str, name: str, kind: str, attributes: dict[str, Any], stream: str = "downstream",
    *, at: PublishedPort = TOXIPROXY,
) -> Iterator[None]:  # fmt: skip
    """One toxic for the duration of the block."""
    add_toxic(proxy, name, kind, attributes, stream=stream, at=at)
    try:
        yield
    finally:
        remove_toxic(proxy, name, at)


@contextmanager
def partition(proxy: str) -> Iterator[None]:
    """The proxy's path cut for the duration of the block."""
    set_enabled(proxy, False)
    try:
        yield
    finally:
        set_enabled(proxy, True)


def answers(at: PublishedPort = TOXIPROXY) -> bool:
    return url_answers(f"{api_url(at)}/version")
