"""Typed async client for the registry (Koko), used by the operator, CLI and gateway.

Failures are translated once, here: a connection problem, a timeout or a 5xx
is :class:`RegistryUnavailable` (retry later); a 4xx is :class:`RegistryRejected`
(or a subclass) carrying the registry's stable code and sentence. The client
never logs request bodies: config values may be secrets.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from tawa.clients._base import InternalClient, segment
from tawa.errors import TawaError, UpstreamError

CHANNEL = "tawa.registry.changes"
"""Redis channel of change notices: JSON ``{version, kind, op, service, environment}``."""

Auth = Literal["required", "optional", "none"]


class RegistryUnavailable(UpstreamError):
    code = "registry_unavailable"
    status = 503


class RegistryRejected(TawaError):
    """The registry refused the request (4xx); ``code`` is the registry's."""

    status = 400


class NotFound(RegistryRejected):
    status = 404


class RouteConflict(RegistryRejected):
    status = 409

    @property
    def service(self) -> str | None:
        """The service that already holds the route."""
        holder = self.details.get("service")
        return str(holder) if holder is not None else None


class HistoryGone(RegistryRejected):
    """The change log no longer reaches back to the version asked for: reload in full."""

    status = 410


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class Route(_Model):
    path: str
    methods: list[str] | None = None
    """``None`` (on input) means every method; the registry answers the full list."""
    auth: Auth = "required"
    gas: int = 0


class ServiceRecord(_Model):
    name: str
    environment: str
    owner: str
    tier: str
    upstream: str
    health_path: str | None = None
    routes: list[Route] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    version: int
    changed: bool = False


class RouteEntry(_Model):
    """One row of the route table."""

    service: str
    environment: str
    owner: str
    upstream: str
    path: str
    methods: list[str]
    auth: Auth
    gas: int


class RouteTable(_Model):
    version: int
    routes: list[RouteEntry]


class RouteChange(_Model):
    version: int
    op: Literal["upsert", "delete"]
    service: str
    environment: str
    owner: str | None = None
    upstream: str | None = None
    routes: list[Route] | None = None
    """The service's full route list after an upsert (absent on delete)."""


class RouteChanges(_Model):
    version: int
    changes: list[RouteChange]


class Grant(_Model):
    id: str
    environment: str
    owner: str
    consumer: str
    resource: str
    database: str | None = None
    access: str
    status: Literal["pending", "approved", "revoked"]


class Domain(_Model):
    domain: str
    service: str
    environment: str


_ERRORS: dict[int, type[RegistryRejected]] = {404: NotFound, 409: RouteConflict, 410: HistoryGone}


class RegistryClient(InternalClient):
    """``async with RegistryClient(url, internal_key=...) as registry: ...``"""

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(
                f"the registry at {self._http.base_url} could not be reached ({type(exc).__name__})"
            ) from exc
        if response.status_code >= 500:
            raise RegistryUnavailable(
                f"the registry answered {response.status_code} to {method} {path}"
            )
        if response.status_code >= 400:
            raise _rejection(response)
        return response.json()

    # --- services and routes -------------------------------------------------------------

    async def upsert_service(
        self,
        environment: str,
        name: str,
        *,
        owner: str,
        upstream: str,
        routes: list[Route],
        tier: str = "nano",
        health_path: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ServiceRecord:
        body = {
            "owner": owner,
            "tier": tier,
            "upstream": upstream,
            "healthPath": health_path,
            "routes": [r.model_dump(by_alias=True, exclude_none=True) for r in routes],
            "metadata": metadata or {},
        }
        data = await self._call(
            "PUT", f"/v1/services/{segment(environment)}/{segment(name)}", json=body
        )
        return ServiceRecord.model_validate(data)

    async def get_service(self, environment: str, name: str) -> ServiceRecord | None:
        try:
            data = await self._call("GET", f"/v1/services/{segment(environment)}/{segment(name)}")
        except NotFound:
            return None
        return ServiceRecord.model_validate(data)

    async def list_services(
        self, *, environment: str | None = None, owner: str | None = None
    ) -> list[ServiceRecord]:
        params = {k: v for k, v in (("environment", environment), ("owner", owner)) if v}
        data = await self._call("GET", "/v1/services", params=params)
        return [ServiceRecord.model_validate(item) for item in data["services"]]

    async def delete_service(self, environment: str, name: str) -> bool:
        """Remove a record; ``False`` when there was none."""
        try:
            await self._call("DELETE", f"/v1/services/{segment(environment)}/{segment(name)}")
        except NotFound:
            return False
        return True

    async def route_table(self, *, environment: str | None = None) -> RouteTable:
        params = {"environment": environment} if environment else {}
        return RouteTable.model_validate(await self._call("GET", "/v1/routes", params=params))

    async def route_changes(self, since: int) -> RouteChanges:
        """Changes after ``since``; raises :class:`HistoryGone` when a full reload is due."""
        data = await self._call("GET", "/v1/routes/changes", params={"since": since})
        return RouteChanges.model_validate(data)

    # --- config --------------------------------------------------------------------------

    async def set_config(self, environment: str, service: str, values: dict[str, str]) -> None:
        await self._call(
            "PUT", f"/v1/config/{segment(environment)}/{segment(service)}", json={"values": values}
        )

    async def get_config(self, environment: str, service: str) -> dict[str, str]:
        data = await self._call("GET", f"/v1/config/{segment(environment)}/{segment(service)}")
        return dict(data["values"])

    async def unset_config(self, environment: str, service: str, key: str) -> bool:
        try:
            await self._call(
                "DELETE", f"/v1/config/{segment(environment)}/{segment(service)}/{segment(key)}"
            )
        except NotFound:
            return False
        return True

    # --- flags ---------------------------------------------------------------------------

    async def put_flag(
        self,
        name: str,
        *,
        enabled: bool,
        percentage: float = 100.0,
        orgs: dict[str, bool] | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        body = {
            "enabled": enabled,
            "percentage": percentage,
            "orgs": orgs or {},
            "description": description,
        }
        result: dict[str, Any] = await self._call("PUT", f"/v1/flags/{segment(name)}", json=body)
        return result

    async def evaluate_flag(
        self, name: str, *, org: str | None = None, subject: str | None = None
    ) -> bool:
        body = {k: v for k, v in (("org", org), ("subject", subject)) if v is not None}
        data = await self._call("POST", f"/v1/flags/{segment(name)}/evaluate", json=body)
        return bool(data["enabled"])

    # --- domains -------------------------------------------------------------------------

    async def bind_domain(self, domain: str, *, service: str, environment: str) -> Domain:
        body = {"domain": domain, "service": service, "environment": environment}
        return Domain.model_validate(await self._call("POST", "/v1/domains", json=body))

    async def list_domains(
        self, *, service: str | None = None, environment: str | None = None
    ) -> list[Domain]:
        params = {k: v for k, v in (("service", service), ("environment", environment)) if v}
        data = await self._call("GET", "/v1/domains", params=params)
        return [Domain.model_validate(item) for item in data["domains"]]

    async def unbind_domain(self, domain: str) -> bool:
        try:
            await self._call("DELETE", f"/v1/domains/{segment(domain)}")
        except NotFound:
            return False
        return True

    # --- scope grants --------------------------------------------------------------------

    async def request_grant(
        self,
        *,
        environment: str,
        owner: str,
        consumer: str,
        resource: str,
        access: str,
        database: str | None = None,
    ) -> Grant:
        body = {
            "environment": environment,
            "owner": owner,
            "consumer": consumer,
            "resource": resource,
            "access": access,
        }
        if database:
            body["database"] = database
        return Grant.model_validate(await self._call("POST", "/v1/grants", json=body))

    async def approve_grant(self, grant_id: str, *, approved_by: str | None = None) -> Grant:
        body = {"approvedBy": approved_by} if approved_by else {}
        data = await self._call("POST", f"/v1/grants/{segment(grant_id)}/approve", json=body)
        return Grant.model_validate(data)

    async def revoke_grant(self, grant_id: str) -> Grant:
        return Grant.model_validate(
            await self._call("POST", f"/v1/grants/{segment(grant_id)}/revoke")
        )

    async def list_grants(self, **filters: str | None) -> list[Grant]:
        params = {k: v for k, v in filters.items() if v}
        data = await self._call("GET", "/v1/grants", params=params)
        return [Grant.model_validate(item) for item in data["grants"]]


def _rejection(response: httpx.Response) -> RegistryRejected:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    kind = _ERRORS.get(response.status_code, RegistryRejected)
    return kind(
        str(error.get("message") or f"the registry answered {response.status_code}"),
        code=str(error.get("code") or "registry_rejected"),
        status=response.status_code,
        details=error.get("details") if isinstance(error.get("details"), dict) else None,
    )
