"""The transactional outbox's relay: from sandbox.outbox in PostgreSQL to RabbitMQ and Kafka.

The api writes an order and its OrderPlaced event in one transaction (the
event into `sandbox.outbox`), so an order is never stored without its event
or the other way round. This service, `outbox-relay` in compose.yaml,
publishes the pending events to both brokers and marks each one per broker
once that broker confirmed it (`rabbitmq_published_at`,
`kafka_published_at`). The guarantee is at least once: a relay killed after a
broker's confirmation but before its commit sends the event again, and every
consumer drops the second copy by its event_id.

    relay.py     the loop: LISTEN/NOTIFY and polling, one transaction per batch
    plan.py      the decisions (SQL, what to mark, backoff), pure, unit-tested
    brokers.py   the two brokers behind order_events' publishers
    settings.py  RELAY_* environment variables

More than one replica may run: FOR UPDATE SKIP LOCKED gives each its own
rows, and a row whose customer has an older event pending in another
replica's batch waits for it, so each customer's events stay in order.
"""
