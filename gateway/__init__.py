"""Janus, the gateway: routes by the registry, enforces auth, meters gas."""

from tawa.gateway.app import Gateway
from tawa.gateway.settings import GatewaySettings

__all__ = ["Gateway", "GatewaySettings"]
