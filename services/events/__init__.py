"""The order events the api publishes and the subscribers consume, on RabbitMQ and on Kafka.

One schema (model.py) for both brokers; rabbit.py and kafka.py hold the
broker-specific publishing and consuming, shared by the api, the scenarios
and the tests.
"""
