"""The other two kinds of evidence for one request: log lines and metrics that moved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Every service that handles a priced order logs at least one line with its request id.
LOGGING_SERVICES = ("proxy", "api", "pricing", "shipping", "ledger")
# Jobs Prometheus scrapes (prometheus.yml, beside the lesson); each must have a target up.
JOBS = ("api", "pricing", "outbox-relay", "consumers", "nginx", "rabbitmq", "zipkin", "prometheus")
LAG = 'sum(kafka_consumergroup_lag{group="ledger"})'
OLDEST_SCRAPE = "min(timestamp(up))"  # when the least recently scraped target was scraped


@dataclass(frozen=True)
class Counter:
    what: str
    query: str
    expected: int  # how much one priced order moves it


COUNTERS = (
    # POSTs only: the WebSocket GETs other lessons hold through the api upstream
    # (webrtc's signaling) count too, each when it closes.
    Counter("nginx: POSTs it sent to the api upstream",
            'sum(nginx_upstream_requests_total{upstream="api",method="POST"})', 1),
    Counter("api: POST /orders answered",
            'sum(http_server_requests_total{method="POST",route="/orders"})', 1),
    Counter("pricing: Quote calls handled",
            'sum(grpc_server_handled_total{method="/sandbox.pricing.v1.PricingService/Quote"})', 1),
    Counter("outbox relay: events RabbitMQ confirmed",
            'sum(outbox_relay_published_total{broker="rabbitmq"})', 1),
    Counter("outbox relay: events Kafka confirmed",
            'sum(outbox_relay_published_total{broker="kafka"})', 1),
    Counter("RabbitMQ: messages into sandbox.orders.shipping",
            'sum(rabbitmq_queue_messages_published_total{queue="sandbox.orders.shipping"})', 1),
    Counter("shipping: orders consumed from RabbitMQ",
            'sum(orders_consumed_total{broker="rabbitmq",outcome="processed"})', 1),
    Counter("ledger: orders consumed from Kafka",
            'sum(orders_consumed_total{broker="kafka",outcome="processed"})', 1),
)  # fmt: skip


def missing_log_services(lines: list[dict[str, Any]]) -> list[str]:
    """Services with no log line in `lines` (already filtered to one request id)."""
    present = {line.get("service") for line in lines}
    return [name for name in LOGGING_SERVICES if name not in present]


def wrong_trace_ids(lines: list[dict[str, Any]], trace_id: str) -> list[str]:
    """Service lines (not nginx's) whose trace id is not the order's trace."""
    return sorted({
        line["service"] for line in lines
        if line.get("service") != "proxy" and line.get("trace_id") != trace_id
    })  # fmt: skip


def counter_rows(before: dict[str, float], after: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for counter in COUNTERS:
        delta = after[counter.query] - before[counter.query]
        rows.append({
            "what": counter.what, "before": before[counter.query],
            "after": after[counter.query], "moved": delta, "expected": counter.expected,
            "holds": delta == counter.expected,
        })  # fmt: skip
    return rows


def targets_down(targets: list[dict[str, Any]]) -> list[str]:
    """Jobs with no target, and targets that are not up."""
    jobs = {target["job"] for target in targets}
    down = [f"{job}: no target" for job in JOBS if job not in jobs]
    down += [f"{t['job']} {t['instance']}: {t['error'] or t['health']}"
             for t in targets if t["health"] != "up"]  # fmt: skip
    return down
