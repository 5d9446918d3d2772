"""Observability lesson: one order's trace, logs and metrics, on the real stack.

The lesson's services sit behind the `observability` profile; conftest's
`lesson_services` starts them for this module (as `make up LESSON=observability` does)
and stops them after it.
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from comms_sandbox import config, docker, zipkin
from comms_sandbox.compose import compose
from scenarios.observability import evidence, trace
from scenarios.result import ScenarioResult
from tests.helpers import assert_holds

ORDER = {"customer_id": "C-424242", "sequence": 1, "sku": "BOOK-42", "quantity": 1}


def test_one_trace_holds_every_hop_correctly_connected(result: ScenarioResult) -> None:
    m = result.metrics
    assert m["order"]["status"] == 201
    assert m["trace_problems"] == []
    assert {"api", "pricing", "rabbitmq", "shipping", "kafka", "ledger"} <= set(m["crossed"])
    assert m["links"]["trace"].endswith(m["trace_id"])


def test_every_service_logged_the_request_id_with_the_traces_id(result: ScenarioResult) -> None:
    m = result.metrics
    assert m["missing_logs"] == []
    services = {row["service"] for row in m["logs"]}
    assert set(evidence.LOGGING_SERVICES) <= services
    for row in m["logs"]:
        if row["service"] != "proxy":
            assert row["trace_id"] == m["trace_id"], row


def test_prometheus_targets_are_up_and_counters_moved_by_one(result: ScenarioResult) -> None:
    m = result.metrics
    assert m["targets_down"] == []
    assert [row["what"] for row in m["counters"] if not row["holds"]] == []
    assert m["checks"]["ledger's lag back to 0"]
    assert_holds(result)


@pytest.mark.parametrize("bad", ["a" * 65, 'x"y', "bad id", "{json}", "-x"])
def test_a_malformed_request_id_is_replaced_not_trusted(proxy: httpx.Client, bad: str) -> None:
    response = proxy.get("/whoami", headers={"X-Request-ID": bad})
    assert response.status_code == 200
    replaced = response.headers["x-request-id"]
    assert replaced != bad and len(replaced) == 32 and int(replaced, 16) >= 0


def test_a_well_formed_traceparent_is_continued_and_a_malformed_one_is_not(
    proxy: httpx.Client,
) -> None:
    trace_id = uuid.uuid4().hex
    good = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    bad_id = uuid.uuid4().hex
    bad = f"00-{bad_id}-{'Z' * 16}-01"  # not hex: nginx drops it
    assert proxy.post("/quotes", json={"sku": "BOOK-42", "quantity": 1},
                      headers={"traceparent": good}).status_code == 200  # fmt: skip
    assert proxy.post("/quotes", json={"sku": "BOOK-42", "quantity": 1},
                      headers={"traceparent": bad}).status_code == 200  # fmt: skip
    deadline, services = time.monotonic() + 20, set()
    while not services >= {"api", "pricing"} and time.monotonic() < deadline:
        time.sleep(0.5)  # each service exports its spans on its own schedule
        services = {trace.service_of(span) for span in zipkin.trace(trace_id)}
    assert services >= {"api", "pricing"}
    assert zipkin.trace(bad_id) == []


def test_requests_succeed_the_same_with_the_trace_backend_stopped(proxy: httpx.Client) -> None:
    (name,) = [c.name for c in docker.containers("zipkin")]
    compose("stop", "zipkin", capture=True)
    try:
        statuses = [
            proxy.post("/orders", json={**ORDER, "sequence": n}).status_code for n in range(1, 11)
        ] + [proxy.post("/quotes", json={"sku": "BOOK-42", "quantity": 2}).status_code
             for _ in range(10)]  # fmt: skip
    finally:
        docker.start(name)
        docker.wait_healthy(name)
    assert statuses == [201] * 10 + [200] * 10


def test_the_ui_links_answer() -> None:
    assert httpx.get(f"{config.zipkin_url()}/zipkin/", timeout=5).status_code == 200
    assert httpx.get(f"{config.prometheus_url()}/graph", timeout=5).status_code == 200
