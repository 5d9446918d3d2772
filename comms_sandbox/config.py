"""Where the sandbox is, seen from the host: URLs, credentials, the local CA, results.

Ports come from comms_sandbox/ports.py; each can be moved with its
environment variable (the names compose.yaml uses).
"""

import os
import ssl
from pathlib import Path

from comms_sandbox import REPO
from comms_sandbox.credentials import setting
from comms_sandbox.ports import (
    AMQP,
    HOST,
    KAFKA,
    PROMETHEUS,
    PROXY,
    PROXY_L4,
    PROXY_TLS,
    RABBITMQ_UI,
    ZIPKIN,
)

# Where scenarios save charts and reports (ignored by git).
RESULTS_DIR = Path(os.environ.get("SANDBOX_RESULTS", REPO / "results"))

# Local development credentials, defined in broker/rabbitmq/definitions.json.
# A sandbox on loopback: fixed, documented, and never reused anywhere else.
RABBITMQ_VHOST = "sandbox"
RABBITMQ_APP_USER = os.environ.get("RABBITMQ_APP_USER", "sandbox-app")
RABBITMQ_APP_PASSWORD = setting("RABBITMQ_APP_PASSWORD")
RABBITMQ_ADMIN_USER = os.environ.get("RABBITMQ_ADMIN_USER", "sandbox-admin")
RABBITMQ_ADMIN_PASSWORD = setting("RABBITMQ_ADMIN_PASSWORD")


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


def zipkin_url() -> str:
    return f"http://{HOST}:{ZIPKIN.port}"


def prometheus_url() -> str:
    return f"http://{HOST}:{PROMETHEUS.port}"


def amqp_url(user: str = RABBITMQ_APP_USER, password: str = RABBITMQ_APP_PASSWORD) -> str:
    """AMQP to the sandbox's vhost, as the app user unless told otherwise."""
    return f"amqp://{user}:{password}@{HOST}:{AMQP.port}/{RABBITMQ_VHOST}"


def kafka_bootstrap() -> str:
    # The EXTERNAL listener advertises this same address: the port is published
    # on IPv4 loopback only, where "localhost" might resolve to ::1 first.
    return f"{HOST}:{KAFKA.port}"
