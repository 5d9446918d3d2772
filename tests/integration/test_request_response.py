"""proxy -> api -> gRPC pricing, validation at the boundary, and the scenario's own report."""

import httpx
import pytest

from scenarios import request_response
from tests.helpers import assert_holds


def test_quote_travels_proxy_api_grpc(proxy: httpx.Client) -> None:
    response = proxy.post("/quotes", json={"sku": "BOOK-42", "quantity": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["total_cents"] == 3 * body["unit_price_cents"]
    assert body["priced_by"]  # the pricing replica's hostname: the gRPC hop happened
    assert body["served_by"] == response.headers["x-served-by"]


def test_readyz_sees_pricing_and_postgres_serving(proxy: httpx.Client) -> None:
    response = proxy.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"pricing": "SERVING", "postgres": "SERVING"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"sku": "no spaces", "quantity": 1}, "sku"),
        ({"sku": "BOOK-42", "quantity": 0}, "quantity"),
        ({"sku": "BOOK-42", "quantity": 1, "coupon": "FREE"}, "coupon"),
    ],
)
def test_invalid_input_gets_422_with_a_reason(
    proxy: httpx.Client, payload: dict[str, object], field: str
) -> None:
    response = proxy.post("/quotes", json=payload)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(field in map(str, error["loc"]) and error["msg"] for error in errors)


@pytest.mark.parametrize("raw", [b"{not json", b""])
def test_malformed_body_is_4xx_not_5xx(proxy: httpx.Client, raw: bytes) -> None:
    response = proxy.post("/quotes", content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]


def test_oversized_body_is_refused_by_the_proxy(proxy: httpx.Client) -> None:
    response = proxy.post("/quotes", content=b"x" * (2 * 1024 * 1024))
    assert response.status_code == 413


def test_request_response_scenario_reports_no_errors_and_three_replicas(
    proxy: httpx.Client,
) -> None:
    result = request_response.run(requests=150, concurrency=6)
    assert_holds(result)
    assert result.metrics["errors"] == 0
    assert result.metrics["status_counts"] == {"200": 150}
    assert result.metrics["replicas"] == 3
    assert sum(result.metrics["requests_per_replica"].values()) == 150
    assert result.metrics["malformed_request"]["status"] == 422
    latency = result.metrics["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
