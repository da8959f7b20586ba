"""Service records and the route table built from them.

A record is one service in one environment: its upstream, routes, health
path, owner, tier and free-form metadata. The route table is every record's
routes flattened, read in full (``GET /v1/routes``) or as the changes since a
version (``GET /v1/routes/changes``).

Two services of one environment cannot claim the same path with an
overlapping method. Each claimed ``(environment, method, path)`` is its own
document whose ``_id`` is that triple, so MongoDB's unique ``_id`` refuses a
second claimant even across registry replicas; within one process the change
log's lock also orders writers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pymongo.errors import DuplicateKeyError

from tawa.registry.context import Registry, registry_of
from tawa.registry.errors import InvalidInput, NotFound, RouteConflict
from tawa.registry.models import ServiceIn
from tawa.resource import NAME_PATTERN, Environment

router = APIRouter(prefix="/v1", tags=["services"])
NamePath = Path(pattern=NAME_PATTERN, max_length=63)
_COMPARED = ("owner", "tier", "upstream", "healthPath", "routes", "metadata")
_HIDDEN = ("_id",)


def _key(environment: str, name: str) -> str:
    return f"{environment}/{name}"


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _HIDDEN}


@router.put("/services/{environment}/{name}")
def upsert_service(
    environment: Environment,
    body: ServiceIn,
    name: str = NamePath,
    registry: Registry = Depends(registry_of),
) -> dict[str, Any]:
    """Create or replace a service record; unchanged records keep their version."""
    for field, value in (("name", body.name), ("environment", body.environment)):
        wanted = name if field == "name" else environment.value
        if value is not None and value != wanted:
            raise InvalidInput(f"body field {field}={value!r} does not match the path ({wanted!r})")
    fields = body.model_dump(by_alias=True, exclude={"name", "environment"})
    with registry.changes.lock:
        record, change = _store(registry, environment.value, name, fields)
    if change is not None:
        registry.publisher.publish(change)
    return {**_public(record), "changed": change is not None}


def _store(
    registry: Registry, environment: str, name: str, fields: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Write the record; the change entry is ``None`` when nothing differed."""
    services = registry.db["services"]
    existing = services.find_one({"_id": _key(environment, name)})
    if existing and all(existing.get(k) == fields.get(k) for k in _COMPARED):
        return existing, None

    # Claim every new (method, path) before writing, so a conflict changes nothing.
    stale = _claim_routes(registry, environment, name, fields["routes"])

    entry = registry.record(
        kind="service",
        op="upsert",
        service=name,
        environment=environment,
        owner=fields["owner"],
        upstream=fields["upstream"],
        routes=fields["routes"],
    )
    now = datetime.now(UTC)
    doc = {
        "_id": _key(environment, name),
        "name": name,
        "environment": environment,
        **fields,
        "version": entry["version"],
        "createdAt": existing["createdAt"] if existing else now,
        "updatedAt": now,
    }
    services.replace_one({"_id": doc["_id"]}, doc, upsert=True)
    registry.db["claims"].delete_many({"_id": {"$in": sorted(stale)}})
    return doc, entry


def _claim_routes(
    registry: Registry, environment: str, name: str, routes: list[dict[str, Any]]
) -> set[str]:
    """Claim the routes' (method, path) pairs; return the service's claims now unused."""
    claims = registry.db["claims"]
    wanted = {
        f"{environment} {method} {route['path']}": (method, route["path"])
        for route in routes
        for method in route["methods"]
    }
    held = {doc["_id"] for doc in claims.find({"environment": environment, "service": name})}
    taken: list[str] = []
    for key in sorted(set(wanted) - held):
        try:
            claims.insert_one({"_id": key, "environment": environment, "service": name})
            taken.append(key)
        except DuplicateKeyError:
            holder = claims.find_one({"_id": key})
            if holder is not None and holder["service"] == name:
                continue
            claims.delete_many({"_id": {"$in": taken}})
            method, path = wanted[key]
            other = holder["service"] if holder else "another service"
            raise RouteConflict(
                f"{method} {path} in {environment} is already routed to service {other!r}; "
                f"choose another path, or remove the route from {other!r} first",
                details={"method": method, "path": path, "service": other},
            ) from None
    return held - set(wanted)


@router.get("/services/{environment}/{name}")
def get_service(
    environment: Environment, name: str = NamePath, registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    doc = registry.db["services"].find_one({"_id": _key(environment.value, name)})
    if doc is None:
        raise NotFound(f"service {name!r} is not registered in {environment.value}")
    return _public(doc)


@router.get("/services")
def list_services(
    environment: Environment | None = None,
    owner: str | None = Query(default=None, pattern=NAME_PATTERN),
    registry: Registry = Depends(registry_of),
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if environment is not None:
        query["environment"] = environment.value
    if owner is not None:
        query["owner"] = owner
    docs = registry.db["services"].find(query, sort=[("_id", 1)])
    return {"services": [_public(doc) for doc in docs]}


@router.delete("/services/{environment}/{name}")
def delete_service(
    environment: Environment, name: str = NamePath, registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    """Remove a record and free its routes."""
    with registry.changes.lock:
        result = registry.db["services"].delete_one({"_id": _key(environment.value, name)})
        if result.deleted_count == 0:
            raise NotFound(f"service {name!r} is not registered in {environment.value}")
        registry.db["claims"].delete_many({"environment": environment.value, "service": name})
        entry = registry.record(
            kind="service", op="delete", service=name, environment=environment.value
        )
    registry.publisher.publish(entry)
    return {"name": name, "environment": environment.value, "version": entry["version"]}


@router.get("/routes")
def route_table(
    environment: Environment | None = None, registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    """Every route, flattened; ``version`` is read first, so the rows are at least that new."""
    version = registry.changes.current()
    query = {} if environment is None else {"environment": environment.value}
    rows = [
        {
            "service": doc["name"],
            "environment": doc["environment"],
            "owner": doc["owner"],
            "upstream": doc["upstream"],
            **route,
        }
        for doc in registry.db["services"].find(query, sort=[("_id", 1)])
        for route in doc["routes"]
    ]
    return {"version": version, "routes": rows}


@router.get("/routes/changes")
def route_changes(
    since: int = Query(ge=0), registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    """Service changes after ``since``; 410 when the log no longer reaches back that far."""
    version, changes = registry.changes.since(since, kind="service")
    return {"version": version, "changes": changes}
