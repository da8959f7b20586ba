"""The two registry reads the database and DNS steps need.

Custom domains bound to a service (``GET /v1/domains``) and the approved scope
grants a service consumes (``GET /v1/grants``), per ``docs/contracts.md``.
Plain ``httpx``: when a typed registry client lands in ``tawa/clients``, this
module should become two calls to it.

TODO: switch to ``tawa.clients.registry`` once it exists (registry issue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tawa.errors import UpstreamError
from tawa.settings import CommonSettings

_TIMEOUT = 5.0


class RegistryUnavailable(UpstreamError):
    code = "registry_unavailable"


@dataclass(frozen=True, slots=True)
class Grant:
    """An approved grant: this service may use ``owner``'s database."""

    owner: str
    resource: str
    database: str | None
    access: str


async def bound_domains(settings: CommonSettings, *, service: str, environment: str) -> list[str]:
    """Custom domains bound to ``service`` in ``environment``."""
    params = {"service": service, "environment": environment}
    items = await _get_list(settings, "/v1/domains", params, key="domains")
    return [
        str(item["domain"])
        for item in items
        if item.get("service", service) == service
        and item.get("environment", environment) == environment
        and item.get("domain")
    ]


async def approved_grants(
    settings: CommonSettings, *, consumer: str, environment: str
) -> list[Grant]:
    """The approved grants ``consumer`` holds in ``environment``."""
    params = {"consumer": consumer, "status": "approved", "environment": environment}
    items = await _get_list(settings, "/v1/grants", params, key="grants")
    return [
        Grant(
            owner=str(item["owner"]),
            resource=str(item.get("resource", "mongodb")),
            database=item.get("database") or None,
            access=str(item.get("access", "readOnly")),
        )
        for item in items
        if item.get("consumer", consumer) == consumer
        and item.get("status", "approved") == "approved"
        and item.get("environment", environment) == environment
        and item.get("owner")
    ]


async def _get_list(
    settings: CommonSettings, path: str, params: dict[str, str], *, key: str
) -> list[dict[str, Any]]:
    headers = {"X-Internal-Key": settings.internal_key.get_secret_value()}
    try:
        async with httpx.AsyncClient(base_url=settings.registry_url, timeout=_TIMEOUT) as http:
            answer = await http.get(path, params=params, headers=headers)
            answer.raise_for_status()
            body = answer.json()
    except (httpx.HTTPError, ValueError) as error:
        raise RegistryUnavailable(
            f"The registry could not be read ({path}): {type(error).__name__}."
        ) from error
    found = body.get(key, body.get("items")) if isinstance(body, dict) else body
    return [item for item in found or [] if isinstance(item, dict)]
