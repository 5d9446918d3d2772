"""Request-response: the client sends a request and waits for the answer.

The most common pattern on the web. Here a bounded number of POST /quotes
requests go through nginx (the only entry point) to one of the api replicas,
which asks the pricing service over gRPC before answering, so each request
makes two synchronous hops and the client waits for both.

What to look at:
- status counts: every request got an answer, and none was a 5xx;
- requests per replica: nginx spread the requests over the api replicas
  (each response names its replica in X-Served-By);
- latency p50/p95/p99: the cost of waiting; the tail (p99) is what users feel;
- the malformed request: the api rejects it with 422 and says why, without
  ever calling pricing (validation at the boundary).
"""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console

from comms_sandbox import config
from comms_sandbox.health import require_proxy
from scenarios.report import counts_table, latency_table, records_table
from scenarios.result import ScenarioResult, all_hold, percentiles_ms

NAME = "request-response"
ORDER = 10  # place in the syllabus
# What `make up LESSON=request-response` starts: the api replicas behind nginx (Compose adds what
# the proxy depends on).
SERVICES = ("proxy",)
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "services/api/",
    "services/pricing/",
    "services/protos/",
    "proxy/site.py",
    "proxy/nginx.conf",
    "tests/integration/test_proxy.py",
    "tests/unit/test_api.py",
    "tests/unit/test_proxy_config.py",
    # Orders as resources (the page's "Orders as resources"): PostgreSQL, its
    # migrations, the rules and their tests.
    "services/orders_db/",
    "images/postgres/",
    "tests/integration/test_orders.py",
    "tests/unit/test_orders_conditional.py",
    "tests/unit/test_orders_cursor.py",
    "tests/unit/test_orders_database.py",
    "tests/unit/test_orders_idempotency.py",
    "tests/unit/test_orders_rules.py",
)
SAMPLE_EVIDENCE = 5


@dataclass(frozen=True)
class Exchange:
    """One request and what came back."""

    status: int | None  # None: no response at all (connection error, timeout)
    latency_s: float
    served_by: str | None
    upstream: str | None
    request_id: str | None
    priced_by: str | None
    error: str | None = None


def quote_body(index: int) -> dict[str, Any]:
    return {"sku": f"SKU-{index % 10:03d}", "quantity": 1 + index % 5}


async def send_quote(client: httpx.AsyncClient, index: int) -> Exchange:
    started = time.perf_counter()
    try:
        response = await client.post("/quotes", json=quote_body(index))
    except httpx.HTTPError as exc:
        return Exchange(None, time.perf_counter() - started, None, None, None, None, repr(exc))
    elapsed = time.perf_counter() - started
    body = response.json() if response.status_code == 200 else {}
    return Exchange(
        status=response.status_code,
        latency_s=elapsed,
        served_by=response.headers.get("x-served-by"),
        upstream=response.headers.get("x-upstream-addr"),
        request_id=response.headers.get("x-request-id"),
        priced_by=body.get("priced_by"),
    )


async def send_all(requests: int, concurrency: int) -> tuple[list[Exchange], float]:
    limits = httpx.Limits(max_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)

    async def bounded(client: httpx.AsyncClient, index: int) -> Exchange:
        async with gate:
            return await send_quote(client, index)

    async with httpx.AsyncClient(
        base_url=config.proxy_url(), limits=limits, timeout=10, verify=config.tls_context()
    ) as client:
        started = time.perf_counter()
        exchanges = await asyncio.gather(*(bounded(client, i) for i in range(requests)))
        return list(exchanges), time.perf_counter() - started


def malformed_request() -> dict[str, Any]:
    """One invalid body: the boundary must answer 422 with a reason, not 500."""
    response = httpx.post(
        f"{config.proxy_url()}/quotes",
        json={"sku": "no spaces!", "quantity": 0},
        timeout=10,
        verify=config.tls_context(),
    )
    reasons = [
        f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in response.json().get("detail", [])
    ]
    return {"status": response.status_code, "reasons": reasons}


def summarize(exchanges: list[Exchange], duration_s: float, concurrency: int) -> dict[str, Any]:
    statuses = Counter(str(e.status) if e.status else "no response" for e in exchanges)
    per_replica = Counter(e.served_by for e in exchanges if e.served_by)
    return {
        "requests": len(exchanges),
        "concurrency": concurrency,
        "errors": sum(1 for e in exchanges if e.status != 200),
        "status_counts": dict(statuses),
        "requests_per_replica": dict(sorted(per_replica.items())),
        "replicas": len(per_replica),
        "priced_by": dict(Counter(e.priced_by for e in exchanges if e.priced_by)),
        "latency_ms": percentiles_ms([e.latency_s for e in exchanges if e.status]),
        "duration_s": round(duration_s, 3),
        "throughput_rps": round(len(exchanges) / duration_s, 1) if duration_s else 0.0,
    }


def run(requests: int = 300, concurrency: int = 8) -> ScenarioResult:
    """Send `requests` quotes through the proxy, `concurrency` at a time (bounded)."""
    require_proxy()
    exchanges, duration_s = asyncio.run(send_all(requests, concurrency))
    metrics = summarize(exchanges, duration_s, concurrency)
    metrics["malformed_request"] = malformed_request()
    samples = [vars(e) | {"latency_ms": round(e.latency_s * 1000, 2)} for e in exchanges]
    failures = [s for s in samples if s["status"] != 200]
    metrics["checks"] = checks(metrics)
    ok = all_hold(metrics["checks"])
    return ScenarioResult(NAME, ok, metrics, evidence=(failures or samples)[:SAMPLE_EVIDENCE])


def checks(metrics: dict[str, Any]) -> dict[str, bool]:
    """Each property the scenario demonstrates, judged from its summary."""
    return {
        # No request sent would be 0 errors too: that shows nothing.
        "every request answered 200": metrics["requests"] > 0 and metrics["errors"] == 0,
        "a malformed body gets 422 with its reasons": metrics["malformed_request"]["status"] == 422
        and bool(metrics["malformed_request"]["reasons"]),
    }


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    console.print(
        f"[bold]{m['requests']}[/] requests through {config.proxy_url()}, "
        f"{m['concurrency']} at a time, in {m['duration_s']} s ({m['throughput_rps']} req/s); "
        f"errors: [bold]{m['errors']}[/]"
    )
    console.print(counts_table("status", "HTTP status", m["status_counts"], m["requests"]))
    total = m["requests"]
    console.print(
        counts_table("api replica (X-Served-By)", "replica", m["requests_per_replica"], total)
    )
    console.print(counts_table("pricing replica (gRPC hop)", "replica", m["priced_by"], total))
    console.print(latency_table("latency, client side", {"POST /quotes": m["latency_ms"]}))
    bad = m["malformed_request"]
    console.print(f"malformed body -> [bold]{bad['status']}[/]: {'; '.join(bad['reasons'])}")
    console.print(records_table("sample exchanges", result.evidence, EVIDENCE_COLUMNS))


EVIDENCE_COLUMNS = ("status", "served_by", "upstream", "priced_by", "latency_ms", "request_id")
