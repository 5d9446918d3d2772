"""The pricing service from the host: its gRPC stubs and channels through the proxy.

The stubs are generated from services/protos/ by `make protos` (see
comms_sandbox/protos.py) into .sandbox/generated/, which .venv has on its path.
Importing this module generates nothing: it checks the stubs first, so a
missing or stale one is "run `make protos`", not a bare ModuleNotFoundError.
"""

from __future__ import annotations

import grpc

from comms_sandbox import config, ports, protos

protos.check()

from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from sandbox.feed.v1 import feed_pb2, feed_pb2_grpc  # noqa: E402
from sandbox.pricing.v1 import pricing_pb2, pricing_pb2_grpc  # noqa: E402

__all__ = [
    "feed_pb2",
    "feed_pb2_grpc",
    "health_pb2",
    "health_pb2_grpc",
    "pricing_pb2",
    "pricing_pb2_grpc",
]


def l7_channel() -> grpc.Channel:
    """TLS to nginx on 8443 (HTTP/2 by ALPN); nginx picks a replica per call."""
    credentials = grpc.ssl_channel_credentials(config.ca_cert().read_bytes())
    return grpc.secure_channel(
        f"{ports.HOST}:{ports.PROXY_TLS.port}",
        credentials,
        # The certificate names localhost and 127.0.0.1; say which name to check.
        options=[("grpc.ssl_target_name_override", "localhost")],
    )


def l4_channel() -> grpc.Channel:
    """Plaintext HTTP/2 through nginx `stream` on 8445: one connection, one replica."""
    return grpc.insecure_channel(f"{ports.HOST}:{ports.PROXY_GRPC_L4.port}")


def pricing_stub(channel: grpc.Channel) -> pricing_pb2_grpc.PricingServiceStub:
    return pricing_pb2_grpc.PricingServiceStub(channel)
