"""catalog: the origin behind the proxies lesson's nginx (proxy/proxies.py), three replicas.

- GET /prices: a price list that changes rarely. Slow to make (PRICES_DELAY_S),
  so that concurrent misses overlap; `Cache-Control: public, max-age=MAX_AGE_S`
  and a strong ETag; If-None-Match with that ETag gets 304 and no body.
- GET /prices/private, /prices/cookie: the same list sent `Cache-Control:
  private`, or with a Set-Cookie: a shared cache must not keep either.
- GET /prices/localized: the list in the request's Accept-Language (en or de),
  sent with `Vary: Accept-Language`.
- POST /touch (and GET): nothing to it, for the keep-alive part.
- /sessions/{store}/...: a login and a cart kept in this replica's memory or in
  Redis (services/catalog/sessions.py).
- GET /counts: what this replica served, counted here (the lesson reads every
  replica's, by name through the edge's /replicas/N/counts, before and after).
Every request's peer (the proxy's address and port: one port per connection)
is kept too, per `run` query when the request has one: how many connections
the proxy used to this replica for that run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse

from catalog import sessions, whoami

PRICES_DELAY_S = float(os.environ.get("CATALOG_PRICES_DELAY_S", "0.3"))
MAX_AGE_S = int(os.environ.get("CATALOG_MAX_AGE_S", "2"))
PRICES = {"espresso": 2.4, "flat white": 3.6, "cortado": 3.2, "filter": 2.8}
PRICES_DE = {"Espresso": 2.4, "Flat White": 3.6, "Cortado": 3.2, "Filterkaffee": 2.8}
MAX_PEERS = 10_000  # distinct peers remembered, so the counter's memory is bounded
MAX_RUNS = 32  # runs (the `run` query of a request) whose peers are kept, newest last

REPLICA = socket.gethostname()
counts: Counter[str] = Counter()
peers: set[str] = set()
peers_by_run: OrderedDict[str, set[str]] = OrderedDict()


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """The two TCP whoami listeners (services/catalog/whoami.py) live as long as the app."""
    servers = await whoami.start()
    try:
        yield
    finally:
        for server in servers:
            server.close()
        await sessions.close()


app = FastAPI(title="catalog", summary="The proxies lesson's origin: a price list.",
              lifespan=lifespan)  # fmt: skip


@app.middleware("http")
async def count_request(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    if request.url.path not in ("/healthz", "/counts"):
        counts["requests"] += 1
        if request.client:
            remember(
                f"{request.client.host}:{request.client.port}", request.query_params.get("run")
            )
    response = await call_next(request)
    response.headers["X-Replica"] = REPLICA
    return response


def remember(peer: str, run: str | None) -> None:
    """The connection a request came on (its peer's address and port), overall and per run."""
    if len(peers) < MAX_PEERS:
        peers.add(peer)
    if not run or len(run) > 32:
        return
    seen = peers_by_run.setdefault(run, set())
    peers_by_run.move_to_end(run)
    if len(seen) < MAX_PEERS:
        seen.add(peer)
    while len(peers_by_run) > MAX_RUNS:
        peers_by_run.popitem(last=False)


def body_and_etag(prices: dict[str, float]) -> tuple[bytes, str]:
    body = json.dumps({"currency": "EUR", "prices": prices}).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


async def price_list(
    prices: dict[str, float], if_none_match: str | None, cache_control: str, kind: str
) -> Response:
    """The list, or 304 when the caller already has this version (its ETag)."""
    body, etag = body_and_etag(prices)
    headers = {"Cache-Control": cache_control, "ETag": etag}
    if if_none_match and etag in (tag.strip() for tag in if_none_match.split(",")):
        counts[f"{kind} 304"] += 1
        return Response(status_code=304, headers=headers)
    await asyncio.sleep(PRICES_DELAY_S)  # the expensive part a cache saves
    counts[f"{kind} 200"] += 1
    return Response(body, media_type="application/json", headers=headers)


IfNoneMatch = Annotated[str | None, Header(max_length=512)]


@app.get("/prices", summary="The price list: cacheable by anyone for MAX_AGE_S, with an ETag")
async def prices(if_none_match: IfNoneMatch = None) -> Response:
    return await price_list(PRICES, if_none_match, f"public, max-age={MAX_AGE_S}", "prices")


@app.get("/prices/private", summary="The same list for one user only: Cache-Control: private")
async def private_prices(if_none_match: IfNoneMatch = None) -> Response:
    return await price_list(PRICES, if_none_match, f"private, max-age={MAX_AGE_S}", "private")


@app.get("/prices/cookie", summary="The same list with a Set-Cookie")
async def cookie_prices(if_none_match: IfNoneMatch = None) -> Response:
    response = await price_list(PRICES, if_none_match, f"public, max-age={MAX_AGE_S}", "cookie")
    response.set_cookie("seen", "1", httponly=True, samesite="lax")
    return response


@app.get("/prices/localized", summary="The list in the caller's language: Vary: Accept-Language")
async def localized_prices(
    accept_language: Annotated[str, Header(max_length=256)] = "en",
    if_none_match: IfNoneMatch = None,
) -> Response:
    german = accept_language.strip().lower().startswith("de")
    language = "de" if german else "en"
    cache_control = f"public, max-age={MAX_AGE_S}"
    response = await price_list(PRICES_DE if german else PRICES, if_none_match, cache_control,
                                language)  # fmt: skip
    response.headers["Vary"] = "Accept-Language"
    response.headers["Content-Language"] = language
    return response


@app.post("/touch", summary="A write with nothing to it (the keep-alive part)")
@app.get("/touch", summary="The same as a read")
async def touch() -> dict[str, str]:
    counts["touch"] += 1
    return {"replica": REPLICA}


@app.get("/counts", summary="What this replica served, and the connections it saw")
async def replica_counts() -> dict[str, object]:
    return {"replica": REPLICA, "counts": dict(counts), "peers": len(peers),
            "peers_by_run": {run: sorted(seen) for run, seen in peers_by_run.items()},
            "whoami": whoami.seen}  # fmt: skip


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


app.include_router(sessions.router)


@app.exception_handler(sessions.StoreUnavailableError)
async def store_unavailable(_: Request, error: sessions.StoreUnavailableError) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=503)
