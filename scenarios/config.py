"""Where the sandbox is, seen from the host: the one place for ports, URLs and credentials.

Every published port can be moved with an environment variable (the same
names compose.yaml uses), so scenarios, tests and tools follow it.
"""

import os
import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PublishedPort:
    variable: str
    default: int
    service: str
    purpose: str

    @property
    def port(self) -> int:
        return int(os.environ.get(self.variable, self.default))


PROXY = PublishedPort("PROXY_PORT", 8080, "proxy", "HTTP entry point (nginx)")
PROXY_L4 = PublishedPort("PROXY_L4_PORT", 8081, "proxy", "TCP (L4) balancing to the api replicas")
PROXY_TLS = PublishedPort("PROXY_TLS_PORT", 8443, "proxy", "HTTPS, TLS terminated at nginx")
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
AMQP = PublishedPort("RABBITMQ_AMQP_PORT", 5672, "rabbitmq", "AMQP")
RABBITMQ_UI = PublishedPort("RABBITMQ_UI_PORT", 15672, "rabbitmq", "management UI")
KAFKA = PublishedPort("KAFKA_PORT", 9094, "kafka", "Kafka listener for host clients")
PUBLISHED_PORTS = (
    PROXY,
    PROXY_L4,
    PROXY_TLS,
    PROXY_PASSTHROUGH,
    PROXY_GRPC_L4,
    INVENTORY,
    INVENTORY_METRICS,
    INVENTORY_BARE,
    AMQP,
    RABBITMQ_UI,
    KAFKA,
)

HOST = "127.0.0.1"  # everything is published on loopback only

# Where scenarios save charts and reports (ignored by git).
REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(os.environ.get("SANDBOX_RESULTS", REPO / "results"))

# Local development credentials, defined in broker/rabbitmq/definitions.json.
# A sandbox on loopback: fixed, documented, and never reused anywhere else.
RABBITMQ_VHOST = "sandbox"
RABBITMQ_APP_USER = os.environ.get("RABBITMQ_APP_USER", "sandbox-app")
RABBITMQ_APP_PASSWORD = os.environ.get("RABBITMQ_APP_PASSWORD", "sandbox-app-dev")
RABBITMQ_ADMIN_USER = os.environ.get("RABBITMQ_ADMIN_USER", "sandbox-admin")
RABBITMQ_ADMIN_PASSWORD = os.environ.get("RABBITMQ_ADMIN_PASSWORD", "sandbox-admin-dev")


def proxy_url() -> str:
    """The entry point: HTTPS, terminated at nginx (the certificate names 127.0.0.1 too)."""
    return f"https://{HOST}:{PROXY_TLS.port}"


def proxy_http_url() -> str:
    """Plain HTTP: health endpoints answer; everything else is a 308 to proxy_url()."""
    return f"http://{HOST}:{PROXY.port}"


def proxy_l4_url() -> str:
    return f"http://{HOST}:{PROXY_L4.port}"


def ca_cert() -> Path:
    """The throwaway local CA (proxy/certs.py) that clients trust for the sandbox's TLS."""
    return REPO / ".sandbox" / "tls" / "ca.pem"


def tls_context() -> ssl.SSLContext:
    """Verifies the sandbox's certificates against the local CA (and nothing else)."""
    return ssl.create_default_context(cafile=str(ca_cert()))


def rabbitmq_ui_url() -> str:
    return f"http://{HOST}:{RABBITMQ_UI.port}"


def amqp_url() -> str:
    return f"amqp://{RABBITMQ_APP_USER}:{RABBITMQ_APP_PASSWORD}@{HOST}:{AMQP.port}/{RABBITMQ_VHOST}"


def kafka_bootstrap() -> str:
    # The EXTERNAL listener advertises this same address: the port is published
    # on IPv4 loopback only, where "localhost" might resolve to ::1 first.
    return f"{HOST}:{KAFKA.port}"
