"""All of the api's settings in one place, read from API_* environment variables."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="API_")

    pricing_target: str = "pricing:50051"
    pricing_timeout_s: float = 2.0
    readiness_timeout_s: float = 1.0


settings = Settings()
