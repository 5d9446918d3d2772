"""The relay's settings, read from RELAY_* environment variables (compose.yaml sets them)."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .plan import MAX_BATCH


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELAY_")

    # As sandbox_relay: SELECT and UPDATE on sandbox.outbox, nothing else.
    database_url: str
    rabbitmq_url: str
    kafka_bootstrap: str
    # The api's switch, ORDERS_PUBLISH, seen by the relay too: with "dual-write"
    # the api publishes after its commit (the old path, kept for the lesson) and
    # the relay stays idle, or every event would go out twice; what the dual
    # write failed to publish stays pending until the switch is back to outbox.
    orders_publish: Literal["outbox", "dual-write"] = "outbox"
    # Rows one transaction locks and publishes. Bigger batches mean fewer round
    # trips and longer-held locks; the lesson's loads stay well under 100.
    batch_size: int = Field(default=100, ge=1, le=MAX_BATCH)
    # The polling fallback: with no NOTIFY (the listening connection lost, a
    # notification missed), pending rows still leave within this long.
    poll_s: float = Field(default=1.0, gt=0, le=60)
    # How long one broker has to confirm a batch before it counts as failed. The
    # other broker's events in the same transaction wait as long: short, since a
    # healthy broker confirms in milliseconds and a failure costs only a retry.
    publish_timeout_s: float = Field(default=3.0, gt=0, le=60)
    # Backoff of a failed broker: first wait, and the most it grows to. A probe
    # is one event in its own transaction, so probing often costs little, and a
    # broker that is back waits at most the cap for its events.
    backoff_base_s: float = Field(default=0.25, gt=0, le=60)
    backoff_cap_s: float = Field(default=4.0, gt=0, le=300)
