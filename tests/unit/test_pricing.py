"""The pricing rules and the gRPC server, in process (no Docker)."""

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status

from comms_sandbox.grpc import pricing_pb2, pricing_pb2_grpc
from pricing import rules


@pytest.mark.parametrize("sku", ["ABC", "SKU-001", "A" * 32])
def test_valid_skus_pass(sku: str) -> None:
    # An invalid quote raises InvalidQuoteError (below); a valid one returns nothing.
    assert rules.validate(sku, 1) is None
    assert rules.validate(sku, rules.MAX_QUANTITY) is None


@pytest.mark.parametrize(
    ("sku", "quantity", "reason"),
    [
        ("ab", 1, "sku"),
        ("lower-case", 1, "sku"),
        ("-LEADING", 1, "sku"),
        ("A" * 33, 1, "sku"),
        ("ABC", 0, "quantity"),
        ("ABC", 1001, "quantity"),
    ],
)
def test_invalid_quotes_say_why(sku: str, quantity: int, reason: str) -> None:
    with pytest.raises(rules.InvalidQuoteError, match=reason):
        rules.validate(sku, quantity)


def test_price_is_stable_and_in_range() -> None:
    prices = {rules.unit_price_cents(f"SKU-{i}") for i in range(200)}
    assert rules.unit_price_cents("SKU-1") == rules.unit_price_cents("SKU-1")
    assert min(prices) >= 100
    assert max(prices) < 10_000
    assert len(prices) > 150  # different skus get different prices


def test_quote_over_grpc(channel: grpc.Channel) -> None:
    stub = pricing_pb2_grpc.PricingServiceStub(channel)
    reply = stub.Quote(pricing_pb2.QuoteRequest(sku="BOOK-42", quantity=3), timeout=5)
    assert reply.total_cents == 3 * rules.unit_price_cents("BOOK-42")
    assert reply.currency == "EUR"
    assert reply.priced_by


def test_invalid_quote_is_invalid_argument(channel: grpc.Channel) -> None:
    stub = pricing_pb2_grpc.PricingServiceStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Quote(pricing_pb2.QuoteRequest(sku="x", quantity=3), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "sku" in caught.value.details()


def test_health_service_reports_serving(channel: grpc.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = stub.Check(health_pb2.HealthCheckRequest(service="sandbox.pricing.v1.PricingService"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def stub(channel: grpc.Channel) -> pricing_pb2_grpc.PricingServiceStub:
    return pricing_pb2_grpc.PricingServiceStub(channel)


def test_server_streaming_sends_count_ticks_in_order(channel: grpc.Channel) -> None:
    ticks = list(stub(channel).WatchPrice(
        pricing_pb2.WatchRequest(sku="ABC", count=4, interval_ms=0), timeout=5
    ))  # fmt: skip
    assert [t.sequence for t in ticks] == [1, 2, 3, 4]


def test_a_short_deadline_ends_a_stream_with_deadline_exceeded(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as error:
        list(stub(channel).WatchPrice(
            pricing_pb2.WatchRequest(sku="ABC", count=10, interval_ms=100), timeout=0.2
        ))  # fmt: skip
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_client_streaming_totals_a_basket(channel: grpc.Channel) -> None:
    items = [
        pricing_pb2.QuoteRequest(sku="ABC", quantity=2),
        pricing_pb2.QuoteRequest(sku="XYZ", quantity=1),
    ]
    reply = stub(channel).QuoteBasket(iter(items), timeout=5)
    expected = 2 * rules.unit_price_cents("ABC") + rules.unit_price_cents("XYZ")
    assert (reply.items, reply.total_cents) == (2, expected)


def test_bidirectional_accepts_an_offer_at_the_price(channel: grpc.Channel) -> None:
    price = rules.unit_price_cents("ABC")
    offers = iter([pricing_pb2.Offer(sku="ABC", offered_cents=1),
                   pricing_pb2.Offer(sku="ABC", offered_cents=price)])  # fmt: skip
    answers = list(stub(channel).Negotiate(offers, timeout=5))
    assert [a.accepted for a in answers] == [False, True]
    assert answers[0].counter_cents == -(-(price + 1) // 2)


def test_invalid_argument_carries_a_bad_request_detail(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as error:
        list(stub(channel).WatchPrice(pricing_pb2.WatchRequest(sku="ABC", count=0), timeout=5))
    status = rpc_status.from_call(error.value)
    bad_request = error_details_pb2.BadRequest()
    assert status is not None and status.details[0].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["count"]


# Bytes that are not the request message: decoded in the handler (pricing/decoding.py).
GARBAGE = b"\xff\xff\xff\xff"
NOT_UTF8 = b"\x0a\x02\xc3\x28\x10\x01"  # field 1 (sku), 2 bytes that are not UTF-8


def raw_call(channel: grpc.Channel, method: str, body: bytes) -> grpc.RpcError:
    """Send `body` as the request of `method`, unparsed; the error it ended with."""
    call = channel.unary_unary(f"/sandbox.pricing.v1.PricingService/{method}")
    with pytest.raises(grpc.RpcError) as error:
        call(body, timeout=5)
    return error.value


@pytest.mark.parametrize(
    ("body", "reason"), [(GARBAGE, "Wire format was corrupt"), (NOT_UTF8, "bad UTF-8")]
)
def test_undecodable_request_is_invalid_argument_with_the_reason(
    channel: grpc.Channel, body: bytes, reason: str
) -> None:
    error = raw_call(channel, "Quote", body)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # not the library's INTERNAL
    assert reason in error.details()
    assert "sandbox.pricing.v1.QuoteRequest" in error.details()


def test_a_good_request_sent_as_bytes_is_decoded(channel: grpc.Channel) -> None:
    body = pricing_pb2.QuoteRequest(sku="BOOK-42", quantity=2).SerializeToString()
    reply = pricing_pb2.QuoteReply.FromString(
        channel.unary_unary("/sandbox.pricing.v1.PricingService/Quote")(body, timeout=5)
    )
    assert reply.total_cents == 2 * rules.unit_price_cents("BOOK-42")


def test_an_undecodable_message_inside_a_client_stream_ends_it(channel: grpc.Channel) -> None:
    good = pricing_pb2.QuoteRequest(sku="BOOK-42", quantity=1).SerializeToString()
    basket = channel.stream_unary("/sandbox.pricing.v1.PricingService/QuoteBasket")
    with pytest.raises(grpc.RpcError) as error:
        basket(iter([good, GARBAGE]), timeout=5)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_reflection_still_lists_the_services(channel: grpc.Channel) -> None:
    services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {"sandbox.pricing.v1.PricingService", "sandbox.feed.v1.FeedService"} <= services
