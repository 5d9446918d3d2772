"""Small results, shaped as the lessons' JSON is, for the report and chart tests (no Docker)."""

from __future__ import annotations

from typing import Any

REQUEST_RESPONSE: dict[str, Any] = {
    "requests": 30, "concurrency": 4, "errors": 0,
    "status_counts": {"200": 30},
    "requests_per_replica": {"api-a": 10, "api-b": 10, "api-c": 10},
    "replicas": 3,
    "priced_by": {"pricing-a": 16, "pricing-b": 14},
    "latency_ms": {"p50": 4.1, "p95": 9.5, "p99": 12.0, "max": 15.2},
    "duration_s": 0.4, "throughput_rps": 75.0,
    "malformed_request": {"status": 422, "reasons": ["body.sku: bad"]},
    "checks": {"every request answered 200": True,
               "a malformed body gets 422 with its reasons": True},
}  # fmt: skip

GRPC: dict[str, Any] = {
    "kinds": {"server_streaming": [1, 2, 3], "deadline": "DEADLINE_EXCEEDED"},
    "balancing": {"L7 nginx grpc_pass (8443)": {"p-a": 10, "p-b": 10},
                  "L4 nginx stream (8445)": {"p-a": 20}},
    "rest_vs_grpc": {
        way: {"calls": 20, "per_s": per_s, "latency_ms": {"p50": p50, "p99": p50 * 3},
              "wire": {"requests": 20, "request_bytes": 50.0, "response_bytes": 200.0,
                       "connections": connections}}
        for way, per_s, p50, connections in (("REST/JSON, HTTP/1.1", 150.0, 39.0, 8),
                                             ("gRPC, HTTP/2", 900.0, 6.8, 1))
    },
    "draining": {"calls": 3000, "reloaded_after": 1500, "calls_per_connection": [1700, 1300],
                 "logged_by_nginx": 3000, "outcomes": {"OK": 3000}},
    "checks": {"server streaming: ticks 1 to 3 in order": True,
               "a short deadline ends in DEADLINE_EXCEEDED": True},
}  # fmt: skip

TLS_TERMINATION: dict[str, Any] = {
    "paths": {name: {"version": "TLSv1.3", "full_ms": 2.5, "resumed_ms": 1.7, "resumed": 15,
                     "rounds": 15, "sans": ["DNS:localhost"]}
              for name in ("termination", "passthrough", "re-encryption")},
    "checks": {"TLS 1.3 and 1.2 accepted": True},
}  # fmt: skip

PUBSUB_RABBITMQ: dict[str, Any] = {
    "pubsub": {"groups": {
        "notifier": {"received_unique": 200},
        "auditor": {"received_unique": 200},
        "work": {"received_unique": 200,
                 "processed_per_consumer": {"worker-1": 70, "worker-2": 65, "worker-3": 65}},
    }, "holds": {"acked_messages_gone": True}},
    "restart": {
        "stream": {"events": 600, "rate_per_s": 100, "confirmed": 600, "duration_s": 11.6},
        "restart": {"after_confirmed": 150, "issued_at_s": 1.5, "restart_returned_at_s": 2.6,
                    "healthy_at_s": 11.8},
        "lost_total": 0, "duplicates_total": 0,
        "holds": {"no_confirmed_event_lost": True},
    },
    "checks": {"pubsub: acked_messages_gone": True, "restart: no_confirmed_event_lost": True},
}  # fmt: skip

PUBSUB_KAFKA: dict[str, Any] = {
    "semantics": {"queue": {"timeline": [
        {"t_s": 0.1, "event": "consumer-1 and consumer-2 joined", "settled_after_s": 0.1},
        {"t_s": 0.8, "event": "consumer-3 joins", "settled_after_s": 0.4},
        {"t_s": 1.5, "event": "consumer-1 leaves", "settled_after_s": 0.37},
    ]}},
    "reliability": {"events": 600, "rate_per_s": 100, "restart_after_sent": 200, "lost": 0,
                    "timeline_s": {"restart_sent": 2.0, "container_started": 2.8,
                                   "healthy": 22.6, "stream_done": 24.7}},
    "checks": {"broker restart: 0 acknowledged events lost": True},
}  # fmt: skip

PUBSUB_COMPARE: dict[str, Any] = {
    "orders": 100, "accepted": 100, "refused": 0,
    "rabbitmq": {"received": 100, "lost": 0, "duplicates": 0, "order_violations": 0,
                 "delay_ms": {"p50": 60.2, "p99": 150.8}},
    "kafka": {"received": 100, "lost": 0, "duplicates": 0, "order_violations": 0,
              "delay_ms": {"p50": 80.0, "p99": 192.7},
              "per_partition": {"0": 60, "1": 20, "2": 20}},
    "checks": {"RabbitMQ: 0 lost, 0 duplicates, 0 order violations": True},
}  # fmt: skip

SIDECAR: dict[str, Any] = {
    "with_sidecar": {"burst_statuses": {"200": 13, "429": 27}, "flaky_statuses": {"200": 10},
                     "slow_status": 504, "slow_s": 2.0},
    "without_sidecar": {"burst_statuses": {"200": 40}, "flaky_statuses": {"200": 5, "503": 5},
                        "slow_status": 200, "slow_s": 3.0},
    "adapter": {"app_requests_before": 145, "expected_after": 159, "seen_after": 159},
    "checks": {"the adapter counted every request the app got": True},
}  # fmt: skip

WEBRTC: dict[str, Any] = {
    "direct": {"open_ms": 74.8},
    "relayed": {"open_ms": 601.7},
    "comparison": {"rtt_p50_ms": {"direct": 0.3, "relayed": 0.6, "server path": 2.3},
                   "servers_on_the_data_path": {"direct": 0, "relayed": 1, "server path": 5}},
    "checks": {"comparison: coturn relayed the relayed pair's bytes": True},
}  # fmt: skip


def result(scenario: str, metrics: dict[str, Any], ok: bool = True) -> dict[str, Any]:
    """A result as `--json` prints it (ScenarioResult.to_json())."""
    not_shown = {c: v for c, v in metrics["checks"].items() if isinstance(v, str)}
    return {"scenario": scenario, "ok": ok, "metrics": metrics, "evidence": [],
            "not_shown": not_shown}  # fmt: skip
