"""gRPC through the proxy: HTTP/2 calls balanced per call at L7, or pinned per connection at L4.

    https://localhost:8443/sandbox.pricing.v1.PricingService/...   L7: grpc_pass, TLS, h2
    https://localhost:8443/grpc.health.v1.Health/...                the standard health service
    https://localhost:8443/grpc.reflection.v1(alpha).ServerReflection/...   reflection
    port 8445 (stream, plaintext h2c)                               L4: one TCP connection,
                                                                    one pricing replica

A gRPC channel is one HTTP/2 connection carrying every call. nginx ends that
connection and picks a pricing replica per call (per stream for streaming
RPCs); an L4 proxy can only pick one per connection, so every call of the
channel lands on the same replica.
"""

from __future__ import annotations

from proxy import observability
from proxy.load_balancing import tcp_proxy
from proxy.model import Directives, Location, Upstream

GRPC_PORT = 50051  # pricing's, inside the network
L4_PORT = 8445
SERVICE = "sandbox.pricing.v1.PricingService"
FEED_SERVICE = "sandbox.feed.v1.FeedService"  # served by pricing too (lesson polling-and-push)
PATHS = (
    SERVICE,
    FEED_SERVICE,
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
)

# How long nginx keeps one client connection (set on the HTTPS server: nginx reads both from
# the server a connection belongs to, never from a location). Past either limit it ends
# the connection with GOAWAY: the calls it had accepted finish, and the ones the client
# had just sent are never processed and must be sent again on a new connection. A gRPC
# channel is ONE connection carrying every call, so the default (1000 requests) drained
# it every 1000 calls: ghz, 5000 Quotes at 20 in flight, lost 21-35 of them ("the
# connection is draining"). 10x fewer GOAWAYs; the limit still frees a connection's
# memory from time to time, which is why it exists, and the client retries what a
# GOAWAY refused (comms_sandbox/grpc.py). The grpc page's "Draining" says more.
KEEPALIVE_REQUESTS = 10_000
CONNECTION_LIMITS: Directives = (
    ("keepalive_requests", str(KEEPALIVE_REQUESTS)),
    ("keepalive_time", "1h"),  # nginx's default, named: the other end of a connection's life
)

UPSTREAM = Upstream(
    name="pricing_grpc",
    servers=(f"pricing:{GRPC_PORT} resolve max_fails=1 fail_timeout=3s",),
    keepalive=16,
    directives=(("zone", "pricing_grpc 64k"),),
)

SETTINGS: Directives = (
    *observability.GRPC_HEADERS,
    ("grpc_set_header", "X-Forwarded-For $proxy_add_x_forwarded_for"),
    # Streams live long: WatchPrice may send for minutes between messages.
    ("grpc_read_timeout", "300s"),
    ("grpc_send_timeout", "300s"),
    # Retry only what never reached a replica (gRPC calls are not all idempotent).
    ("grpc_next_upstream", "error"),
    ("add_header", "X-Upstream-Addr $upstream_addr always"),
)


def locations(extra: Directives = ()) -> tuple[Location, ...]:
    """One location per gRPC service: paths are /package.Service/Method."""
    return tuple(
        Location(
            path=f"/{name}/", grpc_pass=f"grpc://{UPSTREAM.name}", directives=(*SETTINGS, *extra)
        )
        for name in PATHS
    )


L4_UPSTREAM = Upstream(
    name="pricing_l4",
    servers=(f"pricing:{GRPC_PORT} resolve",),
    directives=(("zone", "pricing_l4 64k"),),
)
L4_SERVER = tcp_proxy(L4_PORT, L4_UPSTREAM, idle_timeout="300s")
