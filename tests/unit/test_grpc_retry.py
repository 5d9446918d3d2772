"""The host's gRPC channels retry what is safe to repeat, and only that (no Docker)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from comms_sandbox.grpc import CHANNEL_OPTIONS, SERVICE_CONFIG, pricing_pb2

PRICING = "/sandbox.pricing.v1.PricingService"


class RefusesFirst:
    """A pricing stand-in whose first `refusals` calls of each method end UNAVAILABLE,
    before any answer header (so the call is not committed and may be retried)."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.calls: dict[str, int] = {}

    def answer(self, method: str, context: grpc.ServicerContext) -> bytes:
        self.calls[method] = self.calls.get(method, 0) + 1
        if self.calls[method] <= self.refusals:
            context.abort(grpc.StatusCode.UNAVAILABLE, "draining")
        return pricing_pb2.QuoteReply(total_cents=42).SerializeToString()

    def basket(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        list(requests)  # read the whole client stream first, as QuoteBasket does
        return self.answer("QuoteBasket", context)

    def handlers(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            PRICING[1:],
            {
                "Quote": grpc.unary_unary_rpc_method_handler(
                    lambda _, context: self.answer("Quote", context)
                ),
                "QuoteBasket": grpc.stream_unary_rpc_method_handler(self.basket),
            },
        )


@pytest.fixture
def refuses_once() -> Iterator[tuple[RefusesFirst, str]]:
    service = RefusesFirst(refusals=1)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((service.handlers(),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield service, f"127.0.0.1:{port}"
    server.stop(grace=None)


def quote(channel: grpc.Channel) -> bytes:
    return channel.unary_unary(f"{PRICING}/Quote")(b"", timeout=5)


def test_quote_refused_once_succeeds_on_the_project_channel(
    refuses_once: tuple[RefusesFirst, str],
) -> None:
    service, target = refuses_once
    with grpc.insecure_channel(target, options=list(CHANNEL_OPTIONS)) as channel:
        assert pricing_pb2.QuoteReply.FromString(quote(channel)).total_cents == 42
    assert service.calls["Quote"] == 2


def test_without_the_policy_the_refusal_reaches_the_caller(
    refuses_once: tuple[RefusesFirst, str],
) -> None:
    _, target = refuses_once
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as error:
        quote(channel)
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_stream_is_not_retried(refuses_once: tuple[RefusesFirst, str]) -> None:
    service, target = refuses_once
    with grpc.insecure_channel(target, options=list(CHANNEL_OPTIONS)) as channel:
        basket = channel.stream_unary(f"{PRICING}/QuoteBasket")
        with pytest.raises(grpc.RpcError) as error:
            basket(iter([b""]), timeout=5)
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    assert service.calls["QuoteBasket"] == 1


def test_the_policy_names_only_calls_that_change_nothing_and_only_unavailable() -> None:
    (config,) = SERVICE_CONFIG["methodConfig"]
    methods = {(name["service"], name["method"]) for name in config["name"]}
    assert methods == {
        ("sandbox.pricing.v1.PricingService", "Quote"),
        ("sandbox.pricing.v1.PricingService", "WatchPrice"),
        ("grpc.health.v1.Health", "Check"),
    }
    assert config["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert 2 <= config["retryPolicy"]["maxAttempts"] <= 5  # gRPC caps it at 5 anyway
    assert json.loads(dict(CHANNEL_OPTIONS)["grpc.service_config"]) == SERVICE_CONFIG
