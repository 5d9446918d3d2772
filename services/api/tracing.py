"""The api's tracing: OpenTelemetry's instrumentations, loaded only when tracing is on.

api/main.py imports this module only when telemetry.setup() says tracing is
switched on (SANDBOX_TRACING=on, while the observability lesson runs): off,
none of these modules is loaded and no request pays for a span.
"""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from telemetry.messaging import instrument_aiokafka, instrument_pika
from telemetry.tracing import tag_current_span

__all__ = ["instrument_app", "instrument_clients", "tag_current_span"]


def instrument_clients() -> None:
    """gRPC, RabbitMQ, Kafka and PostgreSQL clients: before any channel or connection is
    made, since they are instrumented as they are made. Each SQL statement the api runs
    is a CLIENT span (db.system postgresql) with its text, never its parameters."""
    GrpcAioInstrumentorClient().instrument()
    # No sqlcommenter: the statements PostgreSQL logs stay as the api wrote them.
    PsycopgInstrumentor().instrument(enable_commenter=False)
    instrument_pika()
    instrument_aiokafka()


def instrument_app(app: FastAPI) -> None:
    """One server span per request, current for everything below it.

    Its middleware wraps the whole app. Health probes every second would bury
    the orders: not traced. Without ASGI's receive/send sub-spans: one span
    per request, with its children.
    """
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/healthz,/readyz", exclude_spans=["receive", "send"]
    )
