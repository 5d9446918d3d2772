"""The order events the api publishes, on RabbitMQ and on Kafka.

One schema (model.py) for both brokers; rabbit.py and kafka.py hold the
broker-specific publishers. The host side (comms_sandbox/) imports these
modules by the same names the containers use (events.model, events.rabbit,
events.kafka) and adds the consumers.
"""
