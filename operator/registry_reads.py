"""The two registry reads the database and DNS steps need.

Custom domains bound to a service and the approved scope grants it holds,
through the kernel's typed registry client. A 4xx from the registry is as
unusable as an unreachable one here: both are :class:`RegistryUnavailable`,
and the steps decide what that means for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tawa.clients.registry import RegistryClient, RegistryRejected
from tawa.clients.registry import RegistryUnavailable as _ClientUnavailable
from tawa.errors import UpstreamError
from tawa.settings import CommonSettings


class RegistryUnavailable(UpstreamError):
    code = "registry_unavailable"


@dataclass(frozen=True, slots=True)
class Grant:
    """An approved grant: this service may use ``owner``'s database."""

    owner: str
    resource: str
    database: str | None
    access: str


def _client(settings: CommonSettings) -> RegistryClient:
    return RegistryClient(
        settings.registry_url, internal_key=settings.internal_key.get_secret_value()
    )


async def bound_domains(settings: CommonSettings, *, service: str, environment: str) -> list[str]:
    """Custom domains bound to ``service`` in ``environment``."""
    try:
        async with _client(settings) as registry:
            domains = await registry.list_domains(service=service, environment=environment)
    except (_ClientUnavailable, RegistryRejected) as error:
        raise RegistryUnavailable(
            f"The registry could not list domains: {error.message}"
        ) from error
    return [d.domain for d in domains if d.service == service and d.environment == environment]


async def approved_grants(
    settings: CommonSettings, *, consumer: str, environment: str
) -> list[Grant]:
    """The approved grants ``consumer`` holds in ``environment``."""
    try:
        async with _client(settings) as registry:
            found = await registry.list_grants(
                consumer=consumer, environment=environment, status="approved"
            )
    except (_ClientUnavailable, RegistryRejected) as error:
        raise RegistryUnavailable(f"The registry could not list grants: {error.message}") from error
    return [
        Grant(owner=g.owner, resource=g.resource, database=g.database, access=g.access)
        for g in found
        if g.consumer == consumer and g.environment == environment and g.status == "approved"
    ]
