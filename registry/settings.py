"""Settings of the registry, read from ``TAWA_*`` environment variables."""

from __future__ import annotations

from tawa.settings import CommonSettings


class RegistrySettings(CommonSettings):
    registry_database: str = "tawa_registry"
    """MongoDB database holding every registry collection."""
    registry_change_retention: int = 1_000
    """How many entries of the change log are kept; older ``since`` answers 410."""
    registry_publish_timeout: float = 0.5
    """Seconds a Redis publish may take before the registry gives up on it."""
