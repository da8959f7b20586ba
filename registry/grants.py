"""Scope grants: one service's access to another service's database.

The owner offers its database in its catalog (``spec.scopes``, reference
2.5.4); the registration step copies that list into the owner's record as
``metadata.scopes``. A consumer listed there asks for a grant; anyone else is
refused. A request is approved at once when the consumer belongs to the same
org as the owner, and waits for an org admin otherwise. The operator reads
approved grants on the consumer's next deploy and injects the credentials.

A grant is keyed by environment, owner, consumer and resource, so asking
again returns the same grant; a revoked grant asked for again is pending
(or auto-approved) anew.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from tawa.registry.context import Registry, registry_of
from tawa.registry.errors import GrantRefused, InvalidInput, NotFound
from tawa.registry.models import Slug, WireModel
from tawa.resource import Environment

router = APIRouter(prefix="/v1/grants", tags=["grants"])
Resource = Literal["mongodb", "redis", "neo4j"]
Access = Literal["readOnly", "readWrite"]
Status = Literal["pending", "approved", "revoked"]
GrantPath = Path(pattern=r"^[a-z0-9.-]{1,200}$")


class GrantIn(WireModel):
    environment: Environment = Environment.SANDBOX
    owner: Slug
    """The service that owns the database."""
    consumer: Slug
    resource: Resource
    access: Access = "readOnly"
    database: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,63}$")


def grant_id(environment: str, owner: str, consumer: str, resource: str) -> str:
    # Service names are DNS labels, so dots cannot be ambiguous.
    return f"{environment}.{owner}.{consumer}.{resource}"


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}


@router.post("", status_code=201)
def request_grant(body: GrantIn, registry: Registry = Depends(registry_of)) -> dict[str, Any]:
    env = body.environment.value
    if body.owner == body.consumer:
        raise InvalidInput("a service does not need a grant for its own database")
    services = registry.db["services"]
    owner = services.find_one({"_id": f"{env}/{body.owner}"})
    if owner is None:
        raise NotFound(f"owner service {body.owner!r} is not registered in {env}")
    scope, allowed = _offer(owner, body)
    consumer = services.find_one({"_id": f"{env}/{body.consumer}"})
    same_org = consumer is not None and consumer.get("owner") == owner.get("owner")

    gid = grant_id(env, body.owner, body.consumer, body.resource)
    with registry.changes.lock:
        held = registry.db["grants"].find_one({"_id": gid})
        if held is not None and held["status"] != "revoked" and held["access"] == body.access:
            return _public(held)
        now = datetime.now(UTC)
        doc = {
            "_id": gid,
            "environment": env,
            "owner": body.owner,
            "consumer": body.consumer,
            "resource": body.resource,
            "database": body.database or scope.get("database"),
            "access": body.access,
            "allowedAccess": allowed,
            "status": "approved" if same_org else "pending",
            "approvedBy": "auto (same org)" if same_org else None,
            "requestedAt": now,
            "updatedAt": now,
        }
        registry.db["grants"].replace_one({"_id": gid}, doc, upsert=True)
        entry = registry.record(kind="grant", op="upsert", service=body.consumer, environment=env)
    registry.publisher.publish(entry)
    return _public(doc)


def _offer(owner: dict[str, Any], body: GrantIn) -> tuple[dict[str, Any], str]:
    """The owner's scope entry listing the consumer, and the access it allows."""
    scopes = (owner.get("metadata") or {}).get("scopes") or []
    for scope in scopes:
        if not isinstance(scope, dict) or scope.get("resource") != body.resource:
            continue
        if body.database and scope.get("database") not in (None, body.database):
            continue
        for consumer in scope.get("allowedConsumers") or []:
            if isinstance(consumer, dict) and consumer.get("service") == body.consumer:
                allowed = str(consumer.get("access") or "readOnly")
                if body.access == "readWrite" and allowed != "readWrite":
                    raise GrantRefused(
                        f"{body.owner!r} allows {body.consumer!r} only readOnly access to its "
                        f"{body.resource}; request --access readOnly"
                    )
                return scope, allowed
    raise GrantRefused(
        f"{body.consumer!r} is not in the allowedConsumers of {body.owner!r} for "
        f"{body.resource}; ask the owner to add it under spec.scopes and redeploy"
    )


def _transition(registry: Registry, gid: str, *, to: Status, by: str | None) -> dict[str, Any]:
    with registry.changes.lock:
        doc = registry.db["grants"].find_one({"_id": gid})
        if doc is None:
            raise NotFound(f"grant {gid!r} does not exist")
        if doc["status"] == to:
            return _public(doc)
        if to == "approved" and doc["status"] == "revoked":
            raise InvalidInput(f"grant {gid!r} was revoked; request it again first")
        changes: dict[str, Any] = {"status": to, "updatedAt": datetime.now(UTC)}
        if to == "approved":
            changes["approvedBy"] = by
        doc.update(changes)
        registry.db["grants"].update_one({"_id": gid}, {"$set": changes})
        op = "upsert" if to == "approved" else "delete"
        entry = registry.record(
            kind="grant", op=op, service=doc["consumer"], environment=doc["environment"]
        )
    registry.publisher.publish(entry)
    return _public(doc)


class ApproveIn(WireModel):
    approved_by: str | None = Field(default=None, max_length=200)


@router.post("/{gid}/approve")
def approve_grant(
    body: ApproveIn | None = None, gid: str = GrantPath, registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    by = (body.approved_by if body else None) or "admin"
    return _transition(registry, gid, to="approved", by=by)


@router.post("/{gid}/revoke")
def revoke_grant(gid: str = GrantPath, registry: Registry = Depends(registry_of)) -> dict[str, Any]:
    return _transition(registry, gid, to="revoked", by=None)


@router.get("")
def list_grants(
    environment: Environment | None = None,
    owner: str | None = Query(default=None, max_length=63),
    consumer: str | None = Query(default=None, max_length=63),
    status: Status | None = None,
    registry: Registry = Depends(registry_of),
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for field, value in (("owner", owner), ("consumer", consumer), ("status", status)):
        if value is not None:
            query[field] = value
    if environment is not None:
        query["environment"] = environment.value
    docs = registry.db["grants"].find(query, sort=[("_id", 1)])
    return {"grants": [_public(doc) for doc in docs]}


@router.get("/{gid}")
def get_grant(gid: str = GrantPath, registry: Registry = Depends(registry_of)) -> dict[str, Any]:
    doc = registry.db["grants"].find_one({"_id": gid})
    if doc is None:
        raise NotFound(f"grant {gid!r} does not exist")
    return _public(doc)
