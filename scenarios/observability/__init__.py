"""Observability: follow one order through nginx, the api, pricing and both brokers.

One POST /orders with a known X-Request-ID and a sku: nginx keeps the id,
the api asks pricing for the price over gRPC (the id as metadata), then
stores the order and its outbox row, with the request id and the W3C trace
context; the outbox relay publishes the event to RabbitMQ and Kafka under
that context (the id and trace context as message headers); shipping
consumes it from RabbitMQ, ledger from Kafka.

What to look at:
- the trace, from Zipkin's API: one tree whose spans name every service
  and broker the order crossed, with each hop's duration. The consumers'
  spans are children of the publishers' spans (see the page for why);
- the log lines: every service, nginx included, logged the request id, and
  each Python service's line carries the same trace id as Zipkin's trace;
- the metrics Prometheus scraped: each counter moved by exactly one, every
  target is up, and the ledger group's lag (asked of Kafka) is back to 0.
Open the trace in Zipkin's UI (the link printed) and Prometheus's graphs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx

from comms_sandbox import config, docker, outbox, prometheus, proxy_log, service_logs, zipkin
from comms_sandbox.compose import TRACING_VARIABLE
from comms_sandbox.health import SandboxNotUpError, require_lesson_service, require_proxy
from scenarios import narration
from scenarios.observability import evidence, trace
from scenarios.observability.render import render
from scenarios.result import ScenarioResult, all_hold

NAME = "observability"
ORDER = 90  # place in the syllabus
# What `make up LESSON=observability` starts (Compose adds the brokers, pricing, the api,
# PostgreSQL). The outbox relay is named: no service depends on it, and it must be
# re-created with tracing on, as it publishes the order's events.
SERVICES = ("proxy", "zipkin", "prometheus", "outbox-relay", "shipping", "ledger")
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "proxy/metrics.js",
    "services/telemetry/",
    "services/api/observability.py",
    "services/api/tracing.py",
    "services/pricing/observability.py",
    "services/outbox_relay/carry.py",
    "comms_sandbox/compose.py",
)
WAIT_S = 30.0  # for spans to be exported, logs flushed, targets scraped (every 5 s)
CATCH_UP_S = 90.0  # for the ledger to read what was published before it started
ORDER_BODY = {"sku": "BOOK-42", "quantity": 2, "sequence": 1}
# On the order's path, traced when on.
TRACED = ("api", "pricing", "outbox-relay", "shipping", "ledger")

__all__ = ["NAME", "ORDER", "SERVICES", "render", "run", "where"]


def where() -> list[tuple[str, str]]:
    return [
        ("Zipkin (traces)", f"{config.zipkin_url()}/zipkin/"),
        ("Prometheus (metrics)", f"{config.prometheus_url()}/targets"),
    ]


def require_backends() -> None:
    require_proxy()
    require_lesson_service("Zipkin", zipkin.answers, NAME)
    require_lesson_service("Prometheus", prometheus.answers, NAME)
    if untraced := untraced_containers():
        raise SandboxNotUpError(
            f"tracing is off in {', '.join(untraced)}: `make up LESSON={NAME}` turns it on "
            f"(Zipkin started by hand does not; {TRACING_VARIABLE}=on make up forces it)."
        )


def untraced_containers() -> list[str]:
    """The running containers on the order's path whose tracing switch is not on."""
    return [
        c.name
        for service in TRACED
        for c in docker.containers(service)
        if c.state == "running" and docker.environment(c.name).get(TRACING_VARIABLE) != "on"
    ]


def place_order(request_id: str) -> dict[str, Any]:
    customer = f"C-{uuid.uuid4().int % 10**8:08d}"
    with httpx.Client(verify=config.tls_context(), timeout=15) as client:
        response = client.post(
            f"{config.proxy_url()}/orders",
            json={"customer_id": customer, **ORDER_BODY},
            headers={"X-Request-ID": request_id},
        )
    return {
        "status": response.status_code,
        "request_id": response.headers.get("x-request-id"),
        "body": response.json(),
    }


def counters() -> dict[str, float]:
    return {c.query: prometheus.query(c.query) for c in evidence.COUNTERS}


def counters_scraped_after(moment: float) -> dict[str, float]:
    """The counters once every target has been scraped after `moment` (a Unix time).

    An instant query answers with each target's last scrape, up to one
    interval old: reading before a fresh scrape would count earlier traffic.
    """
    wait_for(lambda: prometheus.query(evidence.OLDEST_SCRAPE) > moment)
    return counters()


def wait_for(check: Any, timeout_s: float = WAIT_S) -> Any:
    """Call `check` every half second until it returns something truthy, or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def counters_moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """RabbitMQ's exporter refreshes its per-queue counts every few seconds, after the
    events themselves: read again (up to WAIT_S) until every counter has moved or
    the wait runs out. A counter that moved by more than expected still fails."""
    if _all_moved(before, after):
        return after

    def moved() -> dict[str, float] | None:
        now = counters()
        return now if _all_moved(before, now) else None

    return wait_for(moved) or counters()


def _all_moved(before: dict[str, float], now: dict[str, float]) -> bool:
    return all(row["moved"] >= row["expected"] for row in evidence.counter_rows(before, now))


def caught_up() -> bool:
    """The relay owes no event (the outbox has none pending: earlier runs, a broker that
    was down, may have left some) and the ledger group's lag, as last scraped, is 0."""
    return outbox.pending_events() == 0 and prometheus.value(evidence.LAG) == 0


def find_trace(request_id: str) -> list[trace.Span]:
    """The order's full trace, once every service's spans have arrived (or the wait ran out)."""
    found: list[trace.Span] = []

    def complete() -> bool:
        nonlocal found
        tagged = zipkin.traces_tagged("request.id", request_id)
        found = zipkin.trace(tagged[0][0]["traceId"]) if tagged else []
        return not trace.problems(found)

    wait_for(complete)
    return found


def find_logs(request_id: str, since: str) -> list[dict[str, Any]]:
    services = [s for s in evidence.LOGGING_SERVICES if s != "proxy"]
    lines: list[dict[str, Any]] = []

    def complete() -> bool:
        nonlocal lines
        nginx = [
            {**line, "service": "proxy", "message": line["request"]}
            for line in proxy_log.access_log(since)
            if line["request_id"] == request_id
        ]
        ours = service_logs.for_request(service_logs.json_lines(services, since), request_id)
        lines = nginx + ours
        return not evidence.missing_log_services(lines)

    wait_for(complete)
    return lines


def run() -> ScenarioResult:
    require_backends()
    since = datetime.now(UTC).isoformat()
    request_id = f"obs-{uuid.uuid4().hex[:16]}"
    # A ledger that is still catching up (its first start reads the topic from
    # the beginning) would move its counter by more than this one order.
    with narration.waiting("the outbox and the ledger caught up (nothing pending, lag 0)"):
        wait_for(caught_up, timeout_s=CATCH_UP_S)
    with narration.waiting("every Prometheus target scraped afresh", expected_s=5):
        before = counters_scraped_after(time.time())
    narration.step(f"POST /orders with X-Request-ID {request_id}")
    order = place_order(request_id)
    narration.seen(f"POST /orders: {order['status']}")
    with narration.waiting("the whole trace in Zipkin", expected_s=5):
        spans = find_trace(request_id)
    trace_id = spans[0]["traceId"] if spans else ""
    narration.seen(f"trace {trace_id or '(none)'}: {len(spans)} spans, through "
                   + listed(trace.service_of(span) for span in spans))  # fmt: skip
    with narration.waiting("every service's log line with the request id", expected_s=3):
        lines = find_logs(request_id, since)  # the consumers are done once they have logged
    narration.seen(f"{len(lines)} log lines carry the request id, from "
                   + listed(str(line.get("service")) for line in lines))  # fmt: skip
    with narration.waiting("the counters scraped again, until they moved", expected_s=10):
        after = counters_moved(before, counters_scraped_after(time.time()))
    with narration.waiting("the ledger's lag back to 0", expected_s=5):
        lag = wait_for(caught_up, timeout_s=CATCH_UP_S)
    rows = evidence.counter_rows(before, after)
    for row in rows:
        narration.seen(f"{row['what']}: moved {row['moved']:g} (expected {row['expected']:g})")
    checks = {
        "order accepted with our request id": order["status"] == 201
        and order["request_id"] == request_id,
        "trace complete and connected": not trace.problems(spans),
        "every service logged the request id": not evidence.missing_log_services(lines),
        "log lines carry the trace's id": bool(trace_id)
        and not evidence.wrong_trace_ids(lines, trace_id),
        "counters moved by the expected amounts": bool(rows) and all(row["holds"] for row in rows),
        "every Prometheus target up": not evidence.targets_down(prometheus.targets()),
        "ledger's lag back to 0": bool(lag),
    }
    return ScenarioResult(
        scenario=NAME,
        ok=all_hold(checks),
        metrics={
            "request_id": request_id,
            "trace_id": trace_id,
            "order": order,
            "checks": checks,
            "trace_problems": trace.problems(spans),
            "crossed": trace.crossed(spans),
            "tree": trace.tree_rows(spans),
            "logs": [_log_row(line) for line in lines],
            "missing_logs": evidence.missing_log_services(lines),
            "counters": rows,
            "targets_down": evidence.targets_down(prometheus.targets()),
            "links": {
                "trace": zipkin.ui_link(trace_id) if trace_id else "",
                "metrics": prometheus.graph_link("sum by (job) (up)"),
            },
        },
    )


def listed(names: Iterable[str]) -> str:
    """Names once each, sorted, for a line of narration."""
    return ", ".join(sorted(set(names))) or "nothing"


def _log_row(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "service": line.get("service"),
        "message": line.get("message"),
        "trace_id": line.get("trace_id") or "-",  # nginx knows none unless the client sent one
        "detail": {k: line[k] for k in ("route", "method", "status", "order_id", "code",
                                        "upstream_addr", "request_time") if k in line},
    }  # fmt: skip
