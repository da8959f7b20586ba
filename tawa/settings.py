"""Settings shared by every component, read from ``TAWA_*`` environment variables.

Each component subclasses :class:`CommonSettings` for its own fields. Secrets
are ``SecretStr`` so they never print.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAWA_", extra="ignore")

    log_level: str = "INFO"
    log_json: bool = True
    internal_key: SecretStr = SecretStr("")
    """Shared key for service-to-service calls (``X-Internal-Key``)."""
    mongodb_uri: str = "memory://"
    redis_url: str = "redis://127.0.0.1:6379/0"
    registry_url: str = "http://127.0.0.1:8101"
    gateway_url: str = "http://127.0.0.1:8100"
    identity_url: str = "http://127.0.0.1:8102"
    wallet_url: str = "http://127.0.0.1:8103"
    base_domain: str = "tawa.insureco.io"
