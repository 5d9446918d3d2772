"""Long streams cannot starve short calls, and big messages are refused (no Docker)."""

import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from comms_sandbox.grpc import pricing_pb2, pricing_pb2_grpc
from pricing import feed_service, slots
from scenarios.grpc.client import hold_price_stream


def test_the_caps_leave_threads_for_unary_calls() -> None:
    assert slots.MAX_STREAMS + feed_service.MAX_WATCHERS < slots.POOL_SIZE


def test_forty_streams_cannot_starve_a_quote(channel: grpc.Channel) -> None:
    held: list[object] = []
    with ThreadPoolExecutor(max_workers=40) as pool:
        stub = pricing_pb2_grpc.PricingServiceStub(channel)
        outcomes = list(pool.map(lambda _: hold_price_stream(stub, held), range(40)))
        started = time.perf_counter()
        stub = pricing_pb2_grpc.PricingServiceStub(channel)
        reply = stub.Quote(pricing_pb2.QuoteRequest(sku="BOOK-42", quantity=1), timeout=5)
        elapsed = time.perf_counter() - started
    assert reply.total_cents > 0
    assert elapsed < 1.0
    # One client (this test): its cap, and the rest refused at once with a reason.
    assert outcomes.count("open") == slots.MAX_STREAMS_PER_CLIENT
    assert outcomes.count("RESOURCE_EXHAUSTED") == 40 - slots.MAX_STREAMS_PER_CLIENT


def test_a_big_message_is_refused_before_it_is_parsed(channel: grpc.Channel) -> None:
    stub = pricing_pb2_grpc.PricingServiceStub(channel)
    with pytest.raises(grpc.RpcError) as refused:
        stub.Quote(pricing_pb2.QuoteRequest(sku="A" * 100_000, quantity=1), timeout=5)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
