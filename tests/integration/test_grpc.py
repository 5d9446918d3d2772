"""gRPC through nginx on the real stack, asserted on the grpc scenario's results."""

from __future__ import annotations

from scenarios.result import ScenarioResult


def test_each_rpc_kind_returns_the_expected_messages(result: ScenarioResult) -> None:
    kinds = result.metrics["kinds"]
    assert kinds["unary"]["total_cents"] > 0
    assert kinds["unary"]["x_served_by"] == kinds["unary"]["priced_by"]  # metadata
    assert kinds["server_streaming"] == [1, 2, 3, 4, 5]
    assert kinds["client_streaming"]["items"] == 3
    negotiation = kinds["bidirectional"]
    assert len(negotiation) >= 2 and negotiation[-1]["accepted"]
    assert not any(step["accepted"] for step in negotiation[:-1])


def test_errors_carry_their_meaning(result: ScenarioResult) -> None:
    kinds = result.metrics["kinds"]
    assert kinds["deadline"] == "DEADLINE_EXCEEDED"
    assert kinds["invalid_argument"]["code"] == "INVALID_ARGUMENT"
    assert kinds["invalid_argument"]["fields"] == ["sku"]
    assert "must match" in kinds["invalid_argument"]["message"]


def test_health_and_reflection_through_the_proxy(result: ScenarioResult) -> None:
    assert result.metrics["kinds"]["health"] == "SERVING"
    assert "sandbox.pricing.v1.PricingService" in result.metrics["kinds"]["reflection"]


def test_calls_on_one_channel_spread_at_l7_and_stick_at_l4(result: ScenarioResult) -> None:
    spread = result.metrics["balancing"]
    l7, l4 = spread["L7 nginx grpc_pass (8443)"], spread["L4 nginx stream (8445)"]
    assert len(l7) == 2 and min(l7.values()) >= 5
    assert list(l4.values()) == [20]


def test_grpc_multiplexes_where_rest_opens_connections(result: ScenarioResult) -> None:
    rest, grpc = result.metrics["rest_vs_grpc"].values()
    # Counted by nginx from its access log, not set by the client code.
    assert grpc["wire"]["requests"] == rest["wire"]["requests"] == grpc["calls"]
    assert grpc["wire"]["connections"] == 1 < rest["wire"]["connections"]
    assert grpc["wire"]["request_bytes"] < rest["wire"]["request_bytes"]
    assert grpc["request_body_bytes"] < rest["request_body_bytes"]
    assert result.ok
