"""The sandbox's web UIs that show more than a report: linked when they answer."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from comms_sandbox import config, ports

CONNECT_TIMEOUT_S = 0.3  # loopback answers at once; a report waits on nothing


@dataclass(frozen=True)
class UI:
    name: str
    url: str
    port: int
    shows: str

    def answers(self) -> bool:
        """A TCP connect to its port on the host: quick, and enough to say it runs."""
        try:
            with socket.create_connection((ports.HOST, self.port), timeout=CONNECT_TIMEOUT_S):
                return True
        except OSError:
            return False


def known() -> list[UI]:
    """Read when called: every port can be moved by its environment variable."""
    return [
        UI("RabbitMQ management", config.rabbitmq_ui_url(), ports.RABBITMQ_UI.port,
           "queues, consumers, message rates"),
        UI("Zipkin", f"{config.zipkin_url()}/zipkin/", ports.ZIPKIN.port,
           "traces across the services (lesson observability)"),
        UI("Prometheus", f"{config.prometheus_url()}/targets", ports.PROMETHEUS.port,
           "the services' metrics and scrape targets"),
        UI("the feed page", f"{config.proxy_url()}/feed/", ports.PROXY_TLS.port,
           "one feed received five ways (lesson polling-and-push)"),
    ]  # fmt: skip


def status() -> list[tuple[UI, bool]]:
    """Each UI and whether it answers now."""
    return [(ui, ui.answers()) for ui in known()]
