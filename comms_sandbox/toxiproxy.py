"""Toxiproxy's HTTP API on the host (network faults): proxies, toxics, and cleaning up.

Faults are toxics on a proxy (latency, reset_peer, slow_close, bandwidth,
timeout...) or a disabled proxy (a partition: connections refused, open ones
cut). `clean()` wraps a run: every toxic removed and every proxy enabled
before it starts and after it ends, however it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from comms_sandbox.health import url_answers
from comms_sandbox.ports import HOST, TOXIPROXY


def api_url() -> str:
    return f"http://{HOST}:{TOXIPROXY.port}"


def _call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.request(method, f"{api_url()}{path}", json=body, timeout=5)
    response.raise_for_status()
    return response.json() if response.content else None


def proxies() -> dict[str, dict[str, Any]]:
    """Every proxy by name: listen, upstream, enabled, and its toxics."""
    return _call("GET", "/proxies")


def add_toxic(
    proxy: str, name: str, kind: str, attributes: dict[str, Any], *, stream: str = "downstream"
) -> None:
    """A toxic on `proxy` (downstream: the dependency's answers; upstream: the requests)."""
    _call("POST", f"/proxies/{proxy}/toxics",
          {"name": name, "type": kind, "stream": stream, "toxicity": 1.0,
           "attributes": attributes})  # fmt: skip


def remove_toxic(proxy: str, name: str) -> None:
    _call("DELETE", f"/proxies/{proxy}/toxics/{name}")


def set_enabled(proxy: str, enabled: bool) -> None:
    """Disabled: the proxy refuses new connections and closes the open ones (a partition)."""
    _call("POST", f"/proxies/{proxy}", {"enabled": enabled})


def reset() -> None:
    """Every proxy enabled, every toxic removed (Toxiproxy's own /reset)."""
    _call("POST", "/reset")


def leftovers() -> list[str]:
    """What is still configured: disabled proxies and remaining toxics; [] when clean."""
    found = []
    for name, proxy in proxies().items():
        if not proxy["enabled"]:
            found.append(f"{name}: disabled")
        found += [f"{name}: toxic {toxic['name']}" for toxic in proxy.get("toxics", [])]
    return found


@contextmanager
def clean() -> Iterator[None]:
    """A run that starts with no fault and leaves none, even when it stops early."""
    reset()
    try:
        yield
    finally:
        reset()


@contextmanager
def toxic(proxy: str, name: str, kind: str, attributes: dict[str, Any],
          stream: str = "downstream") -> Iterator[None]:  # fmt: skip
    """One toxic for the duration of the block."""
    add_toxic(proxy, name, kind, attributes, stream=stream)
    try:
        yield
    finally:
        remove_toxic(proxy, name)


@contextmanager
def partition(proxy: str) -> Iterator[None]:
    """The proxy's path cut for the duration of the block."""
    set_enabled(proxy, False)
    try:
        yield
    finally:
        set_enabled(proxy, True)


def answers() -> bool:
    return url_answers(f"{api_url()}/version")
