"""The order events the api publishes, on RabbitMQ and on Kafka.

One schema (model.py) for both brokers; rabbit.py and kafka.py hold the
broker-specific publishers. The host side (comms_sandbox/) imports these
modules by the same names the containers use (order_events.model,
order_events.rabbit, order_events.kafka) and adds the consumers. The name says
what it holds: a bare `events` would read, inside api/events.py, like that
module importing itself, and is a name a PyPI distribution could also take.
"""
