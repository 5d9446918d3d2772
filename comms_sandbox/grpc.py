"""The pricing service from the host: its gRPC stubs and channels through the proxy.

The stubs are generated from services/protos/ by the same script the image
build runs, into .sandbox/generated/ (git-ignored), the first time they are
needed and again whenever a .proto changes: nothing to run by hand first, and
nothing generated is committed or edited.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc

from comms_sandbox import REPO, config, ports

PROTOS = REPO / "services" / "protos"
GENERATED = REPO / ".sandbox" / "generated"
STAMP = ".protos.sha256"


def protos_digest() -> str:
    digest = hashlib.sha256()
    for proto in sorted(PROTOS.rglob("*.proto")):
        digest.update(proto.relative_to(PROTOS).as_posix().encode())
        digest.update(proto.read_bytes())
    return digest.hexdigest()


def ensure_stubs(out: Path = GENERATED) -> Path:
    """Generate the stubs into `out` unless they match the protos already; returns `out`."""
    want = protos_digest()
    stamp = out / STAMP
    if stamp.exists() and stamp.read_text() == want:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    # Generate aside and swap in, so an interrupted run never leaves half the stubs.
    fresh = Path(tempfile.mkdtemp(prefix="generated.", dir=out.parent))
    subprocess.run([str(PROTOS / "generate.sh"), str(fresh), sys.executable], check=True)
    (fresh / STAMP).write_text(want)
    shutil.rmtree(out, ignore_errors=True)
    fresh.rename(out)
    return out


if str(ensure_stubs()) not in sys.path:
    sys.path.insert(0, str(GENERATED))

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


def l7_channel() -> grpc.Channel:
    """TLS to nginx on 8443 (HTTP/2 by ALPN); nginx picks a replica per call."""
    credentials = grpc.ssl_channel_credentials(config.ca_cert().read_bytes())
    return grpc.secure_channel(
        f"{ports.HOST}:{ports.PROXY_TLS.port}",
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


if __name__ == "__main__":
    print(ensure_stubs())
