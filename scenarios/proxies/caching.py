"""Caching at the reverse proxy: nginx's proxy_cache in front of the catalog's price list.

The price list takes the origin PRICES_DELAY_S to make and says `Cache-Control:
public, max-age=2` with an ETag. Every URL here carries a fresh `run=` query,
so each run starts cold (the cache key is nginx's default,
$scheme$proxy_host$request_uri). Every count of what reached the origin is
the replicas' own (each one's GET /counts), read before and after.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from comms_sandbox import docker, proxies
from comms_sandbox.ports import EDGE, HOST
from proxy.proxies import CACHE_KEY, CACHE_PATH

COLD_GETS = 200
MAX_AGE_S = 2  # the catalog's (CATALOG_MAX_AGE_S)
STALE_GETS = 10
BASE = f"http://{HOST}:{EDGE.port}"
BEARER = {"Authorization": "Bearer sandbox"}


def run() -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:12]
    results: dict[str, Any] = {"cache": {"key": CACHE_KEY, "path": CACHE_PATH}}
    results["stampede"] = {
        "without lock": measure(lambda: burst(f"/cache-nolock/prices?run={run_id}"), "prices 200"),
        "with lock": measure(lambda: burst(f"/cache/prices?run={run_id}"), "prices 200"),
    }
    filled = time.monotonic()
    results["never cached"] = never_cached(run_id)
    results["vary"] = vary(run_id)
    proxies.wait_until(filled + MAX_AGE_S + 0.2)
    results["revalidated"] = measure(lambda: gets([f"/cache/prices?run={run_id}"]), "prices 304",
                                     "prices 200")  # fmt: skip
    results["stale"] = with_origin_stopped(lambda: stale(run_id))
    results["holds"] = holds(results)
    return results


def measure(action: Callable[[], list[dict[str, Any]]], *keys: str) -> dict[str, Any]:
    """The answers of `action` and how many of each `keys` the replicas counted meanwhile."""
    before = proxies.replica_counts()
    answers = action()
    after = proxies.replica_counts()
    return {"answers": summary(answers), "origin": {k: proxies.served(before, after, k)
                                                     for k in keys}}  # fmt: skip


def summary(answers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"statuses": dict(Counter(str(a["status"]) for a in answers)),
            "cache": dict(Counter(a["cache"] for a in answers)),
            "sequence": [a["cache"] for a in answers][:20]}  # fmt: skip


def burst(path: str, n: int = COLD_GETS) -> list[dict[str, Any]]:
    """n GETs of one cold URL at once, each on its own connection."""

    async def all_at_once() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=BASE, limits=limits, timeout=15) as client:
            return list(await asyncio.gather(*(get(client, path) for _ in range(n))))

    return asyncio.run(all_at_once())


async def get(client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
              ) -> dict[str, Any]:  # fmt: skip
    response = await client.get(path, headers=headers)
    return answer(response)


def answer(response: httpx.Response) -> dict[str, Any]:
    return {"status": response.status_code, "cache": response.headers.get("X-Cache-Status", "-"),
            "language": response.headers.get("Content-Language", ""),
            "body": response.text[:200]}  # fmt: skip


def gets(paths: list[str], headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """GETs one after another, on one connection."""
    with httpx.Client(base_url=BASE, timeout=15) as client:
        return [answer(client.get(path, headers=headers)) for path in paths]


def never_cached(run_id: str) -> dict[str, Any]:
    """Responses a shared cache must not keep: each asked twice, each reaching the origin twice."""
    private = f"/cache/prices/private?run={run_id}"
    cookie = f"/cache/prices/cookie?run={run_id}"
    authorized = f"/cache/prices?run={run_id}-authorized"
    return {
        "Cache-Control: private": measure(lambda: gets([private, private]), "private 200"),
        "Set-Cookie": measure(lambda: gets([cookie, cookie]), "cookie 200"),
        # Two with Authorization, then the same URL without: still a MISS, so
        # neither of the first two was stored.
        "Authorization": measure(
            lambda: gets([authorized] * 2, BEARER) + gets([authorized]), "prices 200"),
    }  # fmt: skip


def vary(run_id: str) -> dict[str, Any]:
    """`Vary: Accept-Language`: one copy per language, each served to its own language only."""
    path = f"/cache/prices/localized?run={run_id}"
    languages = ["en", "en", "de", "de", "en"]

    def asked() -> list[dict[str, Any]]:
        found = []
        for language in languages:
            found += gets([path], {"Accept-Language": language})
        return found

    measured = measure(asked, "en 200", "de 200")
    measured["languages"] = languages
    return measured


def stale(run_id: str) -> list[dict[str, Any]]:
    return gets([f"/cache/prices?run={run_id}"] * STALE_GETS)


def with_origin_stopped(action: Callable[[], list[dict[str, Any]]]) -> dict[str, Any]:
    """`action` once every catalog replica has stopped and the cached copy has expired;
    the replicas started again after, however it ends."""
    names = proxies.replicas()
    stopped_at = time.monotonic()
    try:
        each(lambda name: docker.stop(name, grace_s=2), names)
        proxies.wait_until(stopped_at + MAX_AGE_S + 0.2)
        answers = action()
    finally:
        each(lambda name: (docker.start(name), docker.wait_healthy(name)), names)
    return {"replicas stopped": len(names), "answers": summary(answers)}


def each(action: Callable[[str], object], names: list[str]) -> None:
    """`action` on every container at once (a docker call waits; these need not queue)."""
    with ThreadPoolExecutor(max_workers=len(names) or 1) as pool:
        list(pool.map(action, names))


def holds(m: dict[str, Any]) -> dict[str, bool]:
    without, locked = m["stampede"]["without lock"], m["stampede"]["with lock"]
    never = m["never cached"]
    reval = m["revalidated"]
    vary_seen = m["vary"]["answers"]
    return {
        f"without proxy_cache_lock, {COLD_GETS} cold GETs reach the origin many times":
            without["origin"]["prices 200"] > 10,
        f"with proxy_cache_lock, {COLD_GETS} cold GETs reach the origin once, all answered":
            locked["origin"]["prices 200"] == 1
            and locked["answers"]["statuses"] == {"200": COLD_GETS},
        "after max-age the proxy revalidates (If-None-Match) and the origin answers 304":
            reval["answers"]["cache"] == {"REVALIDATED": 1}
            and reval["origin"] == {"prices 304": 1, "prices 200": 0},
        "with every replica stopped, the expired copy is served STALE with 0 5xx":
            m["stale"]["answers"]["statuses"] == {"200": STALE_GETS}
            and m["stale"]["answers"]["cache"] == {"STALE": STALE_GETS},
        "private, Set-Cookie and Authorization answers are never cached":
            all(min(v["origin"].values()) >= 2 and "HIT" not in v["answers"]["cache"]
                for v in never.values())
            and never["Authorization"]["answers"]["sequence"] == ["BYPASS", "BYPASS", "MISS"],
        "Vary: Accept-Language keeps one copy per language":
            m["vary"]["origin"] == {"en 200": 1, "de 200": 1}
            and vary_seen["sequence"] == ["MISS", "HIT", "MISS", "HIT", "HIT"],
    }  # fmt: skip
