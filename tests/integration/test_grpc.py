"""gRPC through nginx on the real stack, asserted on the grpc scenario's results."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import httpx
import pytest

from comms_sandbox.grpc import l4_channel, l7_channel, pricing_pb2, pricing_pb2_grpc
from scenarios.grpc.client import hold_price_stream
from scenarios.result import ScenarioResult
from tests.helpers import assert_holds


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
    assert_holds(result)


def test_forty_open_streams_cannot_starve_unary_calls(proxy: httpx.Client) -> None:
    """40 WatchPrice streams asked for through nginx: the pricing replicas keep their caps
    (the rest refused at once), and a unary Quote and POST /quotes answer within 1 s."""
    held: list[Any] = []

    with l7_channel() as channel:
        stub = pricing_pb2_grpc.PricingServiceStub(channel)
        with ThreadPoolExecutor(40) as pool:
            outcomes = list(pool.map(lambda _: hold_price_stream(stub, held), range(40)))
        started = time.perf_counter()
        stub.Quote(pricing_pb2.QuoteRequest(sku="BOOK-42", quantity=1), timeout=5)
        quote_s = time.perf_counter() - started
        started = time.perf_counter()
        response = proxy.post("/quotes", json={"sku": "BOOK-42", "quantity": 1})
        rest_s = time.perf_counter() - started
        for stream in held:
            stream.cancel()
    assert set(outcomes) == {"open", "RESOURCE_EXHAUSTED"}
    assert response.status_code == 200
    assert quote_s < 1.0 and rest_s < 1.0


def test_a_drained_connection_loses_no_call(result: ScenarioResult) -> None:
    """nginx reloaded under 2500 calls on one channel: GOAWAY, a new connection, 0 failed;
    and nginx let the first connection carry more than its old default of 1000."""
    draining = result.metrics["draining"]
    failing = [check for check, holds in draining["holds"].items() if not holds]
    assert not failing, (failing, draining)
    assert draining["logged_by_nginx"] >= draining["calls"]  # every call reached nginx


GARBAGE = b"\xff\xff\xff\xff"
NOT_UTF8 = b"\x0a\x02\xc3\x28\x10\x01"  # a sku whose bytes are not UTF-8


@pytest.mark.parametrize("open_channel", [l7_channel, l4_channel], ids=["8443-L7", "8445-L4"])
@pytest.mark.parametrize(
    ("body", "reason"), [(GARBAGE, "Wire format was corrupt"), (NOT_UTF8, "bad UTF-8")]
)
def test_undecodable_requests_get_invalid_argument_with_a_reason(
    open_channel: Callable[[], grpc.Channel], body: bytes, reason: str
) -> None:
    """Raw bytes through nginx (both paths) to the real pricing: the client's fault, said so."""
    with open_channel() as channel:
        quote = channel.unary_unary("/sandbox.pricing.v1.PricingService/Quote")  # bytes as is
        with pytest.raises(grpc.RpcError) as error:
            quote(body, timeout=5)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
    assert reason in error.value.details()
