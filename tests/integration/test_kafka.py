"""Apache Kafka (KRaft, one node) from the host through its advertised listener (aiokafka)."""

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from testcontainers.compose import DockerCompose

from comms_sandbox import config


async def round_trip(topic: str, records: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        producer = AIOKafkaProducer(
            bootstrap_servers=config.kafka_bootstrap(), acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            for key, value in records:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()
        return await consume(topic, len(records))
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def consume(topic: str, count: int) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=config.kafka_bootstrap(),
        group_id=f"test-{topic}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            async for record in consumer:
                received.append((record.key, record.value))
                if len(received) == count:
                    break
    finally:
        await consumer.stop()
    return received


def test_produced_records_are_consumed(stack: DockerCompose) -> None:
    topic = f"it-{uuid.uuid4().hex[:8]}"
    records = [(f"customer-{i % 3}".encode(), f"event-{i}".encode()) for i in range(9)]
    received = asyncio.run(round_trip(topic, records))
    assert sorted(received) == sorted(records)
    # Per key, order is kept (one key, one partition).
    for key in {k for k, _ in records}:
        assert [v for k, v in received if k == key] == [v for k, v in records if k == key]
