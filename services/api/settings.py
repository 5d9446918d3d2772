"""All of the api's settings in one place, read from API_* environment variables."""

from typing import Literal

from pydantic import Field
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
    # Lesson auth: a folder holding this api's client certificate for pricing (tls.crt,
    # tls.key) and the CA of pricing's (ca.crt): the channel then is mutual TLS.
    pricing_tls_dir: str = ""
    # Order events (services/order_events/): empty means "not configured", and
    # POST /orders then answers 503 for that broker rather than pretend.
    rabbitmq_url: str = ""
    kafka_bootstrap: str = ""
    publish_timeout_s: float = 5.0
    # Orders (services/orders_db/): a libpq URL for the least-privileged role;
    # empty means "not configured", and the order routes answer 503.
    database_url: str = ""
    database_pool_size: int = 6  # per replica: 5 api processes x 6 < sandbox_api's limit of 40
    # A request waits this long for a connection, then gets 503: PostgreSQL down or
    # every connection busy. Statements are cut at the second bound (SQLSTATE
    # 57014, then 504), below nginx's 2.5 s read timeout and the server's 5 s.
    database_wait_s: float = 1.0
    database_statement_timeout_ms: int = 1500
    # At start, the api waits this long for its pool's first connection before it
    # serves (and its healthcheck passes): a replica that counts as healthy without
    # one would answer its first orders 503 on a busy machine. PostgreSQL away: it
    # starts anyway after this wait, answers 503, and the pool keeps trying.
    database_startup_wait_s: float = 5.0
    # After the commit: "outbox" (the default), the api only commits and the relay
    # (services/outbox_relay/) publishes the outbox row; or "dual-write", the old
    # path kept for the lesson: the api publishes OrderPlaced to both brokers itself
    # (503 naming a broker that did not confirm; the order is stored anyway).
    orders_publish: Literal["dual-write", "outbox"] = "outbox"
    # Idempotency keys (api/idempotency.py): how long a key is remembered, and how
    # long a request holds one before another request may take over.
    idempotency_ttl_s: float = 24 * 3600
    idempotency_lease_s: float = 30.0
    idempotency_purge_every_s: float = 60.0
    # The order-status feed's Redis (services/feed/): empty means "not
    # configured", and /feed answers 503 rather than pretend.
    redis_url: str = ""
    # WebRTC signaling (services/api/routes/signaling.py): the file holding the
    # secret coturn shares (a compose secret), and the TURN URLs handed to peers.
    turn_secret_file: str = ""
    turn_urls: str = ""
    # Lesson auth (services/api/bearer.py): with an issuer set, the order and quote
    # routes require its JWT access tokens for this audience, checked against the keys
    # at the JWKS URL. Empty (the default stack's replicas): no token is asked for.
    auth_issuer: str = ""
    auth_audience: str = ""
    auth_jwks_url: str = ""
    # A key the provider retired goes on verifying this long at most (bearer.KeySet).
    auth_keys_max_age_s: float = Field(default=60.0, ge=1.0, le=3600.0)
    # Signing people in (api/signin.py): Hydra's admin API (empty: no sign-in pages),
    # the users file (a compose secret of scrypt hashes) and the window over which
    # each user's failed sign-ins are counted (a locked user waits until it ends).
    auth_admin_url: str = ""
    auth_users_file: str = ""
    auth_signin_window_s: int = Field(default=900, ge=10, le=86400)


settings = Settings()
