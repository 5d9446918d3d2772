"""The host side's client of the sandbox: the bottom of the host-side import graph.

Scripts, scenarios, benchmarks and tests import this package; it imports none
of them. It holds what every host-side tool needs to reach the stack:

- ports: the published ports (the one source of truth, checked against compose.yaml);
- config: URLs, credentials, the local CA's TLS context, where results go;
- certs: the throwaway local CA and certificates (`make up` makes them);
- compose, docker: the stack as Compose sees it, and its containers;
- health: "is the sandbox up?", with advice instead of a traceback;
- rabbitmq, kafka: consumers, dead-letter readers, queue counts for the host;
- protos, grpc: the pricing service's stubs (`make protos` generates them) and channels.

Importing any of it changes nothing: no sys.path edits, no files written, no
processes started. The services' own modules (the order-event schema and
publishers in services/order_events) are imported here by the names they have
in their containers (order_events.model, order_events.rabbit,
order_events.kafka): one module, one import name. The image puts /app (the
service packages) and /app/generated (the stubs) on PYTHONPATH; .venv lists
the same two folders, services/ and .sandbox/generated/, in one .pth file
that scripts/bootstrap-venv.sh writes, read by Python at start-up.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
