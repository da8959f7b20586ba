"""Settings of the identity service (``TAWA_*`` environment variables).

Production defaults are the safe ones: Secure cookies, argon2id at the
RFC 9106 "low memory" profile, short-lived access tokens. Tests lower the
argon2 cost through these settings, never through code paths.
"""

from __future__ import annotations

from tawa.settings import CommonSettings


class IdentitySettings(CommonSettings):
    identity_issuer: str = "http://127.0.0.1:8102"
    """The public URL of this service; the ``iss`` of every token it signs."""
    token_audience: str = "tawa"  # noqa: S105 (an audience name, not a secret)
    wallet_url: str = ""
    """Empty means no wallet: creating an org then ensures none."""

    access_token_ttl: int = 900
    id_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    code_ttl: int = 60
    key_cache_seconds: float = 30.0
    signing_key_max_age_days: int = 90
    """A start finding the signing key older than this rotates it (0: never)."""

    session_idle_seconds: int = 30 * 60
    session_absolute_seconds: int = 12 * 3600
    cookie_secure: bool = True
    cookie_name: str = "bio_session"

    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4

    lockout_failures: int = 5
    """Failed logins for one account before it is locked."""
    lockout_seconds: int = 15 * 60
    login_rate_per_minute: int = 30
    """Login attempts per client address per minute."""
    email_token_ttl: int = 24 * 3600
    reset_token_ttl: int = 3600
    outbox_path: str = ""
    """Dev mail sender: append messages (with their links) to this file."""
    mongodb_database: str = "bio_id"
