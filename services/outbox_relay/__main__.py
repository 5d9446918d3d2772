"""`python -m outbox_relay`: the relay's process (compose service `outbox-relay`)."""

from __future__ import annotations

import asyncio

import telemetry

from .brokers import KafkaClient, RabbitClient
from .relay import Relay
from .settings import Settings


async def run(settings: Settings) -> None:
    clients = [RabbitClient(settings.rabbitmq_url), KafkaClient(settings.kafka_bootstrap)]
    await Relay(settings, clients).run()


def main() -> None:
    # JSON logs, /metrics on METRICS_PORT, and traces while the observability lesson runs.
    if telemetry.setup("outbox-relay"):
        # Only when tracing is on: off, no instrumentation module is loaded.
        from telemetry.messaging import instrument_aio_pika, instrument_aiokafka  # noqa: PLC0415

        instrument_aio_pika()
        instrument_aiokafka()
    asyncio.run(run(Settings()))


if __name__ == "__main__":
    main()
