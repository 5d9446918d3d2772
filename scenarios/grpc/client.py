"""gRPC channels to pricing through the proxy, and each kind of call made once.

Stubs and channels come from comms_sandbox.grpc (generated on first use by
the same script the image build runs; never written by hand).
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status

from comms_sandbox.grpc import (
    health_pb2,
    health_pb2_grpc,
    l4_channel,
    l7_channel,
    pricing_pb2,
    pricing_pb2_grpc,
)
from comms_sandbox.grpc import pricing_stub as stub

__all__ = ["l4_channel", "l7_channel", "pricing_pb2", "pricing_pb2_grpc", "stub"]


def unary(channel: grpc.Channel, sku: str = "BOOK-42", quantity: int = 2) -> dict[str, Any]:
    reply, call = stub(channel).Quote.with_call(
        pricing_pb2.QuoteRequest(sku=sku, quantity=quantity),
        timeout=5,
        metadata=[("x-request-id", "scenario-grpc-unary")],
    )
    initial = dict(call.initial_metadata())
    return {
        "total_cents": reply.total_cents,
        "priced_by": reply.priced_by,
        "x_served_by": initial.get("x-served-by"),
        "request_id_echoed": initial.get("x-request-id"),
    }


def server_streaming(channel: grpc.Channel, count: int = 5) -> list[int]:
    ticks = stub(channel).WatchPrice(
        pricing_pb2.WatchRequest(sku="BOOK-42", count=count, interval_ms=50), timeout=10
    )
    return [tick.sequence for tick in ticks]


def client_streaming(channel: grpc.Channel) -> dict[str, Any]:
    def basket() -> Iterator[pricing_pb2.QuoteRequest]:
        for sku, quantity in (("BOOK-42", 1), ("PEN-7", 3), ("MUG-1", 2)):
            yield pricing_pb2.QuoteRequest(sku=sku, quantity=quantity)

    reply = stub(channel).QuoteBasket(basket(), timeout=5)
    return {"items": reply.items, "total_cents": reply.total_cents}


def bidirectional(channel: grpc.Channel) -> list[dict[str, Any]]:
    """Offer a quarter of the price, then whatever was countered, until accepted."""
    price = stub(channel).Quote(pricing_pb2.QuoteRequest(sku="BOOK-42", quantity=1), timeout=5)
    offers: queue.Queue[int | None] = queue.Queue()
    offers.put(price.unit_price_cents // 4)
    exchanges: list[dict[str, Any]] = []

    def offer_stream() -> Iterator[pricing_pb2.Offer]:
        # Each offer waits for the previous answer: both directions stay open.
        while (offered := offers.get(timeout=5)) is not None:
            exchanges.append({"offered_cents": offered})
            yield pricing_pb2.Offer(sku="BOOK-42", offered_cents=offered)

    for counter in stub(channel).Negotiate(offer_stream(), timeout=5):
        exchanges[-1] |= {"counter_cents": counter.counter_cents, "accepted": counter.accepted}
        offers.put(None if counter.accepted else counter.counter_cents)
    return exchanges


def deadline_exceeded(channel: grpc.Channel) -> str:
    """A stream of 10 ticks 200 ms apart, with a 300 ms deadline."""
    try:
        list(stub(channel).WatchPrice(
            pricing_pb2.WatchRequest(sku="BOOK-42", count=10, interval_ms=200), timeout=0.3
        ))  # fmt: skip
    except grpc.RpcError as error:
        return error.code().name
    return "OK"


def invalid_argument(channel: grpc.Channel) -> dict[str, Any]:
    """A malformed sku: the status, its message, and the BadRequest in the details."""
    try:
        stub(channel).Quote(pricing_pb2.QuoteRequest(sku="no spaces!", quantity=1), timeout=5)
    except grpc.RpcError as error:
        status = rpc_status.from_call(error)
        violations = []
        for detail in status.details if status else ():
            bad_request = error_details_pb2.BadRequest()
            if detail.Unpack(bad_request):
                violations += [v.field for v in bad_request.field_violations]
        return {"code": error.code().name, "message": error.details(), "fields": violations}
    return {"code": "OK", "message": "", "fields": []}


def health(channel: grpc.Channel) -> str:
    reply = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="sandbox.pricing.v1.PricingService"), timeout=5
    )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def reflected_services(channel: grpc.Channel) -> list[str]:
    return sorted(ProtoReflectionDescriptorDatabase(channel).get_services())


def replicas_per_call(channel: grpc.Channel, calls: int = 20) -> list[str]:
    """Which replica answered each of `calls` unary calls on this one channel."""
    quote = stub(channel).Quote
    request = pricing_pb2.QuoteRequest(sku="BOOK-42", quantity=1)
    return [quote(request, timeout=5).priced_by for _ in range(calls)]


def hold_price_stream(stub: pricing_pb2_grpc.PricingServiceStub, held: list[Any]) -> str:
    """Open a long WatchPrice: "open" once its first tick came (the stream goes into `held`,
    since a stream nobody references is cancelled), else the status code's name."""
    stream = stub.WatchPrice(pricing_pb2.WatchRequest(sku="BOOK-42", count=100, interval_ms=1000))
    try:
        next(stream)
    except grpc.RpcError as error:
        return error.code().name
    held.append(stream)
    return "open"
