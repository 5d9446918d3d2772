"""Serve PricingService with the standard gRPC health service and server reflection."""

import logging
import os
import signal
import socket
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sandbox.pricing.v1 import pricing_pb2, pricing_pb2_grpc

from pricing import rules

log = logging.getLogger("pricing")
SERVICE_NAME = pricing_pb2.DESCRIPTOR.services_by_name["PricingService"].full_name


class PricingService(pricing_pb2_grpc.PricingServiceServicer):
    def __init__(self) -> None:
        self._hostname = socket.gethostname()

    def Quote(  # noqa: N802 - the name is fixed by the .proto
        self, request: pricing_pb2.QuoteRequest, context: grpc.ServicerContext
    ) -> pricing_pb2.QuoteReply:
        try:
            rules.validate(request.sku, request.quantity)
        except rules.InvalidQuoteError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        unit = rules.unit_price_cents(request.sku)
        return pricing_pb2.QuoteReply(
            sku=request.sku,
            quantity=request.quantity,
            unit_price_cents=unit,
            total_cents=unit * request.quantity,
            currency=rules.CURRENCY,
            priced_by=self._hostname,
        )


def build_server() -> grpc.Server:
    """The server with every service registered; the caller adds a port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pricing_pb2_grpc.add_PricingServiceServicer_to_server(PricingService(), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in (SERVICE_NAME, ""):  # "" is the whole server's status
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    return server


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    address = os.environ.get("PRICING_LISTEN", "0.0.0.0:50051")
    server = build_server()
    server.add_insecure_port(address)
    server.start()
    log.info("pricing listening on %s", address)
    # Docker stops containers with SIGTERM: finish in-flight calls, then exit.
    signal.signal(signal.SIGTERM, lambda *_: server.stop(grace=5))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
