"""Settings of the wallet service, read from ``TAWA_*`` environment variables."""

from __future__ import annotations

from tawa.settings import CommonSettings


class WalletSettings(CommonSettings):
    wallet_database: str = "tawa_wallet"
    """MongoDB database holding ``wallets`` and ``entries``."""
    wallet_intro_grant: int = 50_000
    """Intro tokens every new org receives (reference 4.5)."""
    wallet_pending_lease_seconds: float = 15.0
    """Age after which an unapplied pending entry counts as abandoned and is aborted."""
    wallet_replay_wait_seconds: float = 2.0
    """How long a replayed key waits for the first request still in flight."""
    wallet_sweep_interval_seconds: float = 30.0
    """How often abandoned pending entries are settled."""
    identity_jwks_url: str = ""
    """JWKS of the identity service; empty disables bearer tokens (internal key only)."""
    identity_issuer: str = ""
    token_audience: str = "tawa"  # noqa: S105 (an audience, not a secret)
