"""The pricing service from the host: its gRPC stubs and channels through the proxy.

The stubs are generated from services/protos/ by `make protos` (see
comms_sandbox/protos.py) into .sandbox/generated/, which .venv has on its path.
Importing this module generates nothing: it checks the stubs first, so a
missing or stale one is "run `make protos`", not a bare ModuleNotFoundError.
"""

from __future__ import annotations

import json

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


# Calls that change nothing, so sending one twice is harmless: gRPC itself retries them
# when they fail UNAVAILABLE, e.g. when a proxy or a server ends the connection (GOAWAY:
# nginx after keepalive_requests or on reload, pricing on shutdown) and a call it never
# processed comes back refused. gRPC resends such a call once by itself (transparent
# retry, gRFC A6); this policy covers a second refusal and a replica that is briefly
# gone. QuoteBasket and Negotiate are left out: their client streams would be buffered
# for a resend, and a negotiation's offers depend on the answers.
IDEMPOTENT_METHODS = (
    ("sandbox.pricing.v1.PricingService", "Quote"),
    ("sandbox.pricing.v1.PricingService", "WatchPrice"),
    ("grpc.health.v1.Health", "Check"),
)
RETRY_POLICY = {
    "maxAttempts": 3,  # the first call and 2 retries, all within the call's deadline
    "initialBackoff": "0.05s",  # each wait is random(0, backoff): retries do not bunch up
    "maxBackoff": "0.5s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}
SERVICE_CONFIG = {
    "methodConfig": [
        {
            "name": [
                {"service": service, "method": method} for service, method in IDEMPOTENT_METHODS
            ],
            "retryPolicy": RETRY_POLICY,
        }
    ],
    # Stop retrying when failures pile up (then retries only add load): gRPC keeps a token
    # count, 1 off per failure and 0.1 back per success, and retries only while it is above
    # half of maxTokens; it sinks once more than about 1 call in 11 fails.
    "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
}
CHANNEL_OPTIONS = (("grpc.service_config", json.dumps(SERVICE_CONFIG)),)


def l7_channel(port: int | None = None) -> grpc.Channel:
    """TLS to nginx on 8443 (HTTP/2 by ALPN); nginx picks a replica per call. `port`: another
    nginx with the same certificate (the proxies lesson's edge)."""
    credentials = grpc.ssl_channel_credentials(config.ca_cert().read_bytes())
    return grpc.secure_channel(
        f"{ports.HOST}:{port or ports.PROXY_TLS.port}",
        credentials,
        # The certificate names localhost and 127.0.0.1; say which name to check.
        options=[("grpc.ssl_target_name_override", "localhost"), *CHANNEL_OPTIONS],
    )


def l4_channel() -> grpc.Channel:
    """Plaintext HTTP/2 through nginx `stream` on 8445: one connection, one replica."""
    return grpc.insecure_channel(
        f"{ports.HOST}:{ports.PROXY_GRPC_L4.port}", options=list(CHANNEL_OPTIONS)
    )


def pricing_stub(channel: grpc.Channel) -> pricing_pb2_grpc.PricingServiceStub:
    return pricing_pb2_grpc.PricingServiceStub(channel)
