"""Gateway settings, read from ``TAWA_*`` environment variables."""

from __future__ import annotations

from tawa.settings import CommonSettings


class GatewaySettings(CommonSettings):
    environment: str = "sandbox"
    """The environment whose routes this gateway serves (``TAWA_ENVIRONMENT``)."""

    identity_issuer: str = ""
    """Expected ``iss`` of access tokens; defaults to ``identity_url``."""
    token_audience: str = "tawa"  # noqa: S105 - an audience, not a secret
    identity_jwks_url: str = ""
    """Defaults to ``{identity_url}/.well-known/jwks.json`` (the in-cluster address)."""
    token_cache_size: int = 10_000
    token_cache_seconds: float = 30.0
    """How long a verified token is trusted without verifying it again."""

    upstream_connect_timeout: float = 5.0
    upstream_read_timeout: float = 60.0
    upstream_connections: int = 1024

    route_resync_seconds: float = 15.0
    """Period of the catch-up with the registry that heals missed messages."""

    usage_batch_size: int = 200
    usage_flush_seconds: float = 0.25
    usage_buffer_size: int = 100_000
    """Usage events kept while the wallet is unreachable; beyond, the oldest drop."""
    usage_drain_seconds: float = 5.0
    """How long shutdown waits for buffered usage to reach the wallet."""
    balance_refresh_seconds: float = 10.0
    wallet_timeout_seconds: float = 5.0
    """Per call to the wallet; a batch that times out is resent (the wallet dedupes)."""

    def issuer(self) -> str:
        return (self.identity_issuer or self.identity_url).rstrip("/")

    def jwks(self) -> str:
        return self.identity_jwks_url or f"{self.identity_url.rstrip('/')}/.well-known/jwks.json"
