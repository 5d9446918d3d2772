"""The host side's client of the sandbox: the bottom of the host-side import graph.

Scripts, scenarios, benchmarks and tests import this package; it imports none
of them. It holds what every host-side tool needs to reach the stack:

- ports: the published ports (the one source of truth, checked against compose.yaml);
- config: URLs, credentials, the local CA's TLS context, where results go;
- certs: the throwaway local CA and certificates (`make up` makes them);
- compose, docker: the stack as Compose sees it, and its containers;
- health: "is the sandbox up?", with advice instead of a traceback;
- rabbitmq, kafka: consumers, dead-letter readers, queue counts for the host;
- grpc: the pricing service's stubs (generated on first use) and channels.

The services' own shared modules (the order-event schema and publishers in
services/events) are imported here by the names they have in their
containers, events.model, events.rabbit and events.kafka: one module, one
import name.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_SERVICES = str(REPO / "services")
if _SERVICES not in sys.path:
    sys.path.append(_SERVICES)
