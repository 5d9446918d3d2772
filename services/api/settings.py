"""All of the api's settings in one place, read from API_* environment variables."""

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="API_")

    pricing_target: str = "pricing:50051"
    pricing_timeout_s: float = 2.0
    readiness_timeout_s: float = 1.0
    # How a failed pricing call is handled (services/api/resilience.py): "off",
    # one attempt; "naive", immediate retries; "on", retries with backoff,
    # jitter and a budget, behind a circuit breaker. The faults lesson compares them.
    pricing_resilience: Literal["off", "naive", "on"] = "off"
    # Order events (services/order_events/): empty means "not configured", and
    # POST /orders then answers 503 for that broker rather than pretend.
    rabbitmq_url: str = ""
    kafka_bootstrap: str = ""
    publish_timeout_s: float = 5.0
    # The order-status feed's Redis (services/feed/): empty means "not
    # configured", and /feed answers 503 rather than pretend.
    redis_url: str = ""
    # WebRTC signaling (services/api/routes/signaling.py): the file holding the
    # secret coturn shares (a compose secret), and the TURN URLs handed to peers.
    turn_secret_file: str = ""
    turn_urls: str = ""


settings = Settings()
