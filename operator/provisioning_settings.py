"""Settings of the database and DNS steps, read from ``TAWA_*`` variables.

The operator's own settings may carry these fields (subclass this class); when
the ``StepContext`` holds something else, the steps read the environment
through this class, which reads the same variable names.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from tawa.settings import CommonSettings


class ProvisioningSettings(CommonSettings):
    mongodb_admin_uri: SecretStr = SecretStr("")
    """A user allowed to create users and drop databases (``userAdminAnyDatabase``
    and ``dbAdminAnyDatabase``); empty: MongoDB entries cannot be provisioned."""
    mongodb_host: str = "127.0.0.1:27017"
    """``host[:port]`` (or a comma-separated seed list) that services connect to."""
    mongodb_options: str = ""
    """Extra URI options for services, e.g. ``tls=true&replicaSet=rs0``."""
    redis_admin_url: SecretStr = SecretStr("")
    """A Redis user allowed to run ``ACL`` and ``UNLINK`` on every key."""
    redis_host: str = "127.0.0.1:6379"
    redis_db: int = 0
    neo4j_uri: SecretStr = SecretStr("")
    """Empty: this installation has no Neo4j server."""
    cloudflare_api_token: SecretStr = SecretStr("")
    """Empty: DNS is not managed by the operator."""
    cloudflare_zone: str = ""
    """The zone of the environment hostnames, e.g. ``tawa.insureco.io``."""
    cloudflare_base_url: str | None = None
    ingress_target: str = ""
    """A hostname (CNAME records) or an IPv4 address (A records) of the ingress."""
    dns_proxied: bool = True
    retry_delay: float = 30.0
    """Seconds before a step waiting for MongoDB, Redis, the registry or Cloudflare
    tries again (``TAWA_RETRY_DELAY``, the operator's own retry setting)."""
    dns_max_wait_seconds: float = 30.0
    """Longest total wait for Cloudflare rate limits within one reconcile."""


def provisioning_settings(settings: Any) -> ProvisioningSettings:
    """The step's settings: the operator's own if they carry ours, else the environment."""
    if isinstance(settings, ProvisioningSettings):
        return settings
    return ProvisioningSettings()
