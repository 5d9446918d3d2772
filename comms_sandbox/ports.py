"""The ports the sandbox publishes on the host: the one source of truth.

compose.yaml publishes each as "127.0.0.1:${VARIABLE:-default}:container"; a
unit test fails when the two disagree. Every port can be moved with its
environment variable, and scenarios, tests and tools follow it.
"""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedPort:
    variable: str
    default: int
    service: str
    purpose: str
    protocol: str = "tcp"  # "udp": compose publishes it with a /udp suffix

    @property
    def port(self) -> int:
        return int(os.environ.get(self.variable, self.default))


PROXY = PublishedPort("PROXY_PORT", 8080, "proxy", "HTTP entry point (nginx)")
PROXY_L4 = PublishedPort("PROXY_L4_PORT", 8081, "proxy", "TCP (L4) balancing to the api replicas")
PROXY_TLS = PublishedPort("PROXY_TLS_PORT", 8443, "proxy", "HTTPS, TLS terminated at nginx")
# The same variable as HTTPS: Alt-Svc tells clients HTTP/3 is on HTTPS's port.
PROXY_QUIC = PublishedPort(
    "PROXY_TLS_PORT", 8443, "proxy", "HTTP/3 over QUIC, on HTTPS's port", protocol="udp"
)
PROXY_PASSTHROUGH = PublishedPort(
    "PROXY_PASSTHROUGH_PORT", 8444, "proxy", "TLS passthrough, routed by SNI"
)
INVENTORY = PublishedPort("INVENTORY_PORT", 8082, "inventory", "the inventory app's ambassador")
INVENTORY_METRICS = PublishedPort(
    "INVENTORY_METRICS_PORT", 9102, "inventory-metrics", "Prometheus metrics from the adapter"
)
INVENTORY_BARE = PublishedPort(
    "INVENTORY_BARE_PORT", 8083, "inventory-bare", "the app without sidecars (profile no-sidecar)"
)
PROXY_GRPC_L4 = PublishedPort(
    "PROXY_GRPC_L4_PORT", 8445, "proxy", "gRPC to pricing at layer 4 (plaintext h2c)"
)
PROXY_ECHO_TCP = PublishedPort(
    "PROXY_ECHO_PORT", 8447, "proxy", "echo over TCP through nginx (lesson http-versions)"
)
PROXY_ECHO_UDP = PublishedPort(
    "PROXY_ECHO_PORT",
    8447,
    "proxy",
    "echo over UDP through nginx (lesson http-versions)",
    protocol="udp",
)
AMQP = PublishedPort("RABBITMQ_AMQP_PORT", 5672, "rabbitmq", "AMQP")
RABBITMQ_UI = PublishedPort("RABBITMQ_UI_PORT", 15672, "rabbitmq", "management UI")
KAFKA = PublishedPort("KAFKA_PORT", 9094, "kafka", "Kafka listener for host clients")
ZIPKIN = PublishedPort("ZIPKIN_PORT", 9411, "zipkin", "Zipkin: traces UI and API")
PROMETHEUS = PublishedPort("PROMETHEUS_PORT", 9090, "prometheus", "Prometheus: metrics UI and API")
TOXIPROXY = PublishedPort("TOXIPROXY_PORT", 8474, "toxiproxy", "Toxiproxy's API (faults lesson)")
FAULTS_API = PublishedPort("FAULTS_API_PORT", 8086, "api-faults", "the api behind Toxiproxy")
# Lesson idempotency-and-outbox: a Toxiproxy of its own in front of the api (the client's path).
ORDERS_TOXIPROXY = PublishedPort(
    "ORDERS_TOXIPROXY_PORT", 8475, "toxiproxy-orders", "Toxiproxy's API (idempotency lesson)"
)
ORDERS_CUT_API = PublishedPort(
    "ORDERS_CUT_API_PORT", 8087, "toxiproxy-orders", "the api through Toxiproxy (idempotency)"
)
# Lesson clusters: every node of each cluster, each on its own port.
KAFKA_CLUSTER = tuple(
    PublishedPort(f"KAFKA_CLUSTER_{n}_PORT", 9194 + n, f"kafka-{n}", f"Kafka cluster node {n}")
    for n in (1, 2, 3)
)
RABBITMQ_CLUSTER = tuple(
    PublishedPort(f"RABBITMQ_CLUSTER_{n}_PORT", 5672 + n, f"rabbitmq-{n}",
                  f"AMQP, RabbitMQ cluster node {n}")
    for n in (1, 2, 3)
)  # fmt: skip
RABBITMQ_CLUSTER_UI = tuple(
    PublishedPort(f"RABBITMQ_CLUSTER_{n}_UI_PORT", 15672 + n, f"rabbitmq-{n}",
                  f"management UI, RabbitMQ cluster node {n}")
    for n in (1, 2, 3)
)  # fmt: skip
# Lesson databases: its own PostgreSQL, for the scenario's clients on the host.
DATABASES = PublishedPort("DATABASES_PORT", 5433, "db-primary", "PostgreSQL (lesson databases)")
DATABASES_REPLICA = PublishedPort(
    "DATABASES_REPLICA_PORT", 5434, "db-replica", "its hot standby (lesson databases)"
)
DATABASES_POOLER = PublishedPort(
    "DATABASES_POOLER_PORT", 6433, "db-pooler", "PgBouncer before it (lesson databases)"
)
TURN = PublishedPort("TURN_PORT", 3478, "turn", "STUN/TURN (lesson webrtc)", protocol="udp")
# Lesson proxies: Squid (the forward proxy) and the lesson's own nginx, the edge.
SQUID = PublishedPort("SQUID_PORT", 3128, "squid", "Squid, the forward proxy (lesson proxies)")
EDGE = PublishedPort("EDGE_PORT", 8090, "edge", "the lesson's nginx: HTTP (lesson proxies)")
EDGE_TLS = PublishedPort("EDGE_TLS_PORT", 8490, "edge", "the lesson's nginx: HTTPS, HTTP/2, gRPC")
EDGE_L4 = PublishedPort("EDGE_L4_PORT", 8491, "edge", "TCP to catalog's whoami (lesson proxies)")
EDGE_PROXY_PROTOCOL = PublishedPort(
    "EDGE_PROXY_PROTOCOL_PORT", 8492, "edge", "the same, with the PROXY protocol"
)
EDGE_TOXIPROXY = PublishedPort(
    "EDGE_TOXIPROXY_PORT", 8476, "toxiproxy-edge", "Toxiproxy's API (lesson proxies)"
)
PUBLISHED_PORTS = (
    PROXY,
    PROXY_L4,
    PROXY_TLS,
    PROXY_QUIC,
    PROXY_PASSTHROUGH,
    PROXY_GRPC_L4,
    PROXY_ECHO_TCP,
    PROXY_ECHO_UDP,
    INVENTORY,
    INVENTORY_METRICS,
    INVENTORY_BARE,
    AMQP,
    RABBITMQ_UI,
    KAFKA,
    ZIPKIN,
    PROMETHEUS,
    TOXIPROXY,
    FAULTS_API,
    ORDERS_TOXIPROXY,
    ORDERS_CUT_API,
    *KAFKA_CLUSTER,
    *RABBITMQ_CLUSTER,
    *RABBITMQ_CLUSTER_UI,
    DATABASES,
    DATABASES_REPLICA,
    DATABASES_POOLER,
    TURN,
    SQUID,
    EDGE,
    EDGE_TLS,
    EDGE_L4,
    EDGE_PROXY_PROTOCOL,
    EDGE_TOXIPROXY,
)

HOST = "127.0.0.1"  # everything is published on loopback only
