"""Custom domains bound to one service in one environment (``tawa domain add``).

A domain belongs to at most one binding; binding it again to the same service
and environment is a no-op, to another one is 409. Names under the platform's
own base domain are refused: those hostnames are the platform's to give.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field, field_validator
from pymongo.errors import DuplicateKeyError

from tawa.registry import paths
from tawa.registry.context import Registry, registry_of
from tawa.registry.errors import DomainTaken, InvalidInput, NotFound
from tawa.registry.models import WireModel
from tawa.resource import NAME_PATTERN, Environment

router = APIRouter(prefix="/v1/domains", tags=["domains"])


class DomainIn(WireModel):
    domain: str = Field(max_length=253)
    service: str = Field(pattern=NAME_PATTERN, max_length=63)
    environment: Environment = Environment.SANDBOX

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return paths.hostname(value)


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_id"}


def _normalised(domain: str) -> str:
    try:
        return paths.hostname(domain)
    except ValueError as exc:
        raise InvalidInput(str(exc), details={"field": "domain"}) from None


@router.post("", status_code=201)
def bind_domain(
    body: DomainIn, response: Response, registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    """Bind a domain: 201 when new, 200 when it already was bound the same way."""
    base = registry.settings.base_domain.lower()
    if body.domain == base or body.domain.endswith("." + base):
        raise InvalidInput(
            f"domain {body.domain!r} is under the platform's base domain {base!r}; "
            "services get those hostnames automatically",
            details={"field": "domain"},
        )
    doc = {
        "_id": body.domain,
        "domain": body.domain,
        "service": body.service,
        "environment": body.environment.value,
        "createdAt": datetime.now(UTC),
    }
    with registry.changes.lock:
        try:
            registry.db["domains"].insert_one(doc)
        except DuplicateKeyError:
            response.status_code = 200
            return _already_bound(registry, doc)
        entry = registry.record(
            kind="domain",
            op="upsert",
            service=body.service,
            environment=body.environment.value,
            domain=body.domain,
        )
    registry.publisher.publish(entry)
    return {**_public(doc), "version": entry["version"]}


def _already_bound(registry: Registry, wanted: dict[str, Any]) -> dict[str, Any]:
    held = registry.db["domains"].find_one({"_id": wanted["_id"]}) or {}
    if (held.get("service"), held.get("environment")) == (
        wanted["service"],
        wanted["environment"],
    ):
        return _public(held)
    raise DomainTaken(
        f"domain {wanted['domain']!r} is already bound to service {held.get('service')!r} "
        f"in {held.get('environment')}; remove that binding first",
        details={"service": held.get("service"), "environment": held.get("environment")},
    )


@router.get("")
def list_domains(
    service: str | None = Query(default=None, pattern=NAME_PATTERN),
    environment: Environment | None = None,
    registry: Registry = Depends(registry_of),
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if service is not None:
        query["service"] = service
    if environment is not None:
        query["environment"] = environment.value
    docs = registry.db["domains"].find(query, sort=[("_id", 1)])
    return {"domains": [_public(doc) for doc in docs]}


@router.get("/{domain}")
def get_domain(domain: str, registry: Registry = Depends(registry_of)) -> dict[str, Any]:
    doc = registry.db["domains"].find_one({"_id": _normalised(domain)})
    if doc is None:
        raise NotFound(f"domain {domain!r} is not bound")
    return _public(doc)


@router.delete("/{domain}")
def unbind_domain(domain: str, registry: Registry = Depends(registry_of)) -> dict[str, Any]:
    name = _normalised(domain)
    with registry.changes.lock:
        doc = registry.db["domains"].find_one_and_delete({"_id": name})
        if doc is None:
            raise NotFound(f"domain {domain!r} is not bound")
        entry = registry.record(
            kind="domain",
            op="delete",
            service=doc["service"],
            environment=doc["environment"],
            domain=name,
        )
    registry.publisher.publish(entry)
    return {"domain": name, "version": entry["version"]}
