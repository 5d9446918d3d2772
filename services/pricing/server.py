"""Serve PricingService (all four kinds of RPC) with the standard health service and reflection."""

import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from types import ModuleType

import grpc
import telemetry
from google.protobuf import any_pb2
from google.protobuf.descriptor import ServiceDescriptor
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from sandbox.feed.v1 import feed_pb2
from sandbox.pricing.v1 import pricing_pb2, pricing_pb2_grpc

from pricing import decoding, healthcheck, mutual_tls, rules
from pricing.feed_service import FeedService
from pricing.observability import CallTelemetry, TagSpan, instrument_server
from pricing.slots import POOL_SIZE, StreamSlots, past

log = logging.getLogger("pricing")
MAX_MESSAGE_BYTES = 16 * 1024


def _service(module: ModuleType, name: str) -> ServiceDescriptor:
    return module.DESCRIPTOR.services_by_name[name]


SERVICE_NAME = _service(pricing_pb2, "PricingService").full_name
FEED_SERVICE_NAME = _service(feed_pb2, "FeedService").full_name


class PricingService(pricing_pb2_grpc.PricingServiceServicer):
    """Every method tags its answers with this replica's hostname (and x-served-by metadata)."""

    def __init__(self) -> None:
        self._hostname = socket.gethostname()
        self._streams = StreamSlots()

    def Quote(  # noqa: N802 - the names are fixed by the .proto
        self, request: pricing_pb2.QuoteRequest, context: grpc.ServicerContext
    ) -> pricing_pb2.QuoteReply:
        self._greet(context)
        _checked(context, rules.validate, request.sku, request.quantity)
        unit = rules.unit_price_cents(request.sku)
        return pricing_pb2.QuoteReply(
            sku=request.sku,
            quantity=request.quantity,
            unit_price_cents=unit,
            total_cents=unit * request.quantity,
            currency=rules.CURRENCY,
            priced_by=self._hostname,
        )

    def WatchPrice(  # noqa: N802
        self, request: pricing_pb2.WatchRequest, context: grpc.ServicerContext
    ) -> Iterator[pricing_pb2.PriceTick]:
        self._greet(context)
        _checked(context, rules.validate_watch, request.sku, request.count, request.interval_ms)
        unit = rules.unit_price_cents(request.sku)
        with self._streams.hold(context) as deadline:
            for sequence in range(1, request.count + 1):
                if not context.is_active() or past(deadline, context):  # the client left
                    return
                yield pricing_pb2.PriceTick(
                    sku=request.sku,
                    sequence=sequence,
                    unit_price_cents=unit + sequence - 1,
                    priced_by=self._hostname,
                )
                time.sleep(request.interval_ms / 1000)

    def QuoteBasket(  # noqa: N802
        self, request_iterator: Iterator[pricing_pb2.QuoteRequest], context: grpc.ServicerContext
    ) -> pricing_pb2.BasketReply:
        self._greet(context)
        items, total = 0, 0
        with self._streams.hold(context) as deadline:
            for item in request_iterator:
                _checked(context, rules.validate, item.sku, item.quantity)
                past(deadline, context)
                items += 1
                total += rules.unit_price_cents(item.sku) * item.quantity
        return pricing_pb2.BasketReply(
            items=items, total_cents=total, currency=rules.CURRENCY, priced_by=self._hostname
        )

    def Negotiate(  # noqa: N802
        self, request_iterator: Iterator[pricing_pb2.Offer], context: grpc.ServicerContext
    ) -> Iterator[pricing_pb2.CounterOffer]:
        self._greet(context)
        with self._streams.hold(context) as deadline:
            for offer in request_iterator:
                _checked(context, rules.validate_sku, offer.sku)
                past(deadline, context)
                counter, accepted = rules.counter_offer(
                    rules.unit_price_cents(offer.sku), offer.offered_cents
                )
                yield pricing_pb2.CounterOffer(
                    sku=offer.sku, counter_cents=counter, accepted=accepted,
                    priced_by=self._hostname,
                )  # fmt: skip
                if accepted:
                    return

    def _greet(self, context: grpc.ServicerContext) -> None:
        """Initial metadata: who answers, and the caller's request id echoed back."""
        received = dict(context.invocation_metadata())
        metadata = [("x-served-by", self._hostname)]
        if "x-request-id" in received:
            metadata.append(("x-request-id", str(received["x-request-id"])))
        context.send_initial_metadata(metadata)


def _checked(context: grpc.ServicerContext, check: Callable[..., None], *args: object) -> None:
    """Run a validation; on failure, abort INVALID_ARGUMENT with a google.rpc.BadRequest."""
    try:
        check(*args)
    except rules.InvalidQuoteError as exc:
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=exc.field, description=str(exc)
        )
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=[violation]))
        status = status_pb2.Status(
            code=code_pb2.INVALID_ARGUMENT, message=str(exc), details=[detail]
        )
        context.abort_with_status(rpc_status.to_status(status))


def build_server(tag_span: TagSpan | None = None) -> grpc.Server:
    """The server with every service registered; the caller adds a port.

    `tag_span` (when tracing is on) tags each call's span with its request id.
    """
    # Streams hold a thread each for their life: slots.py caps them below the pool.
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=POOL_SIZE),
        interceptors=[CallTelemetry(tag_span)],
        # Every message here is a few dozen bytes: refuse big ones before parsing
        # them (RESOURCE_EXHAUSTED), on every port, the layer-4 one (8445) included.
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)],
    )
    # Not the generated add_*Servicer_to_server: requests are decoded in the handler, so
    # bytes that are not the request message get INVALID_ARGUMENT (decoding.py).
    decoding.add_servicer(PricingService(), _service(pricing_pb2, "PricingService"), server)
    feed = FeedService(os.environ.get("PRICING_REDIS_URL", ""))
    decoding.add_servicer(feed, _service(feed_pb2, "FeedService"), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in (SERVICE_NAME, ""):  # "" is the whole server's status
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (SERVICE_NAME, FEED_SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    return server


def make_server() -> grpc.Server:
    """Telemetry set up, then the server built: traced only when tracing is switched on."""
    # Before the server is made: the instrumentation adds its interceptor then.
    tag_span = instrument_server() if telemetry.setup("pricing") else None
    return build_server(tag_span)


def main() -> None:
    address = os.environ.get("PRICING_LISTEN", "0.0.0.0:50051")
    server = make_server()
    server.add_insecure_port(address)
    # Lesson auth's pricing-mtls: the plain port on loopback only (its own healthcheck),
    # and this one for everybody else, requiring a client certificate (mutual_tls.py).
    tls_address = os.environ.get("PRICING_TLS_LISTEN", "")
    if tls_address:
        credentials = mutual_tls.server_credentials(os.environ["PRICING_TLS_DIR"])
        server.add_secure_port(tls_address, credentials)
    server.start()
    log.info("pricing listening on %s", ", ".join(a for a in (address, tls_address) if a))
    healthcheck.watch(f"127.0.0.1:{address.rsplit(':', 1)[1]}")
    # Docker stops containers with SIGTERM: finish in-flight calls, then exit.
    signal.signal(signal.SIGTERM, lambda *_: server.stop(grace=5))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
