"""Service records and the route table built from them.

A record is one service in one environment: its upstream, routes, health
path, owner, tier and free-form metadata. The route table is every record's
routes flattened, read in full (``GET /v1/routes``) or as the changes since a
version (``GET /v1/routes/changes``).

Two services of one environment cannot claim the same path with an
overlapping method. Each claimed ``(environment, method, path)`` is its own
document whose ``_id`` is that triple, so MongoDB's unique ``_id`` refuses a
second claimant even across registry replicas; within one process the change
log's lock also orders writers. A claim left behind by a write that died
between claiming and storing its record (its service does not route it) is
taken over once it is a minute old, so it cannot block a path forever.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pymongo.errors import DuplicateKeyError

from tawa.registry.context import Registry, registry_of
from tawa.registry.errors import InvalidInput, NotFound, RouteConflict
from tawa.registry.models import (
    Deleted,
    RouteChanges,
    RouteTable,
    ServiceIn,
    ServiceList,
    ServiceOut,
)
from tawa.resource import NAME_PATTERN, Environment

router = APIRouter(prefix="/v1", tags=["services"])
log = logging.getLogger(__name__)
NamePath = Path(pattern=NAME_PATTERN, max_length=63)
_COMPARED = ("owner", "tier", "upstream", "healthPath", "routes", "metadata")
_HIDDEN = ("_id",)
_ORPHAN_AGE = timedelta(seconds=60)


def _key(environment: str, name: str) -> str:
    return f"{environment}/{name}"


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _HIDDEN}


@router.put("/services/{environment}/{name}", response_model=ServiceOut)
def upsert_service(
    environment: Environment,
    body: ServiceIn,
    name: str = NamePath,
    registry: Registry = Depends(registry_of),
) -> dict[str, Any]:
    """Create or replace a service record; unchanged records keep their version."""
    for field, given, wanted in (
        ("name", body.name, name),
        ("environment", body.environment, environment.value),
    ):
        if given is not None and given != wanted:
            raise InvalidInput(f"body field {field}={given!r} does not match the path ({wanted!r})")
    fields = body.model_dump(mode="json", by_alias=True, exclude={"name", "environment"})
    with registry.changes.lock:
        record, change = _store(registry, environment.value, name, fields)
    if change is not None:
        log.info(
            "Service %s in %s stored at version %d with %d route(s).",
            name,
            environment.value,
            change["version"],
            len(fields["routes"]),
        )
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
    held = _claims(environment, existing["routes"] if existing else [])
    wanted = _claims(environment, fields["routes"])
    _claim(registry, environment, name, {k: v for k, v in wanted.items() if k not in held})

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
    _release(registry, name, set(held) - set(wanted))
    return doc, entry


def _claims(environment: str, routes: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Claim ids of ``routes``, each with its (method, path)."""
    return {
        f"{environment} {method} {route['path']}": (method, route["path"])
        for route in routes
        for method in route["methods"]
    }


def _claim(
    registry: Registry, environment: str, name: str, wanted: dict[str, tuple[str, str]]
) -> None:
    """Insert a claim per key; on the first one held elsewhere undo ours and refuse."""
    taken: list[str] = []
    for key in sorted(wanted):
        holder = _take(registry, key, environment=environment, name=name)
        if holder is None:
            taken.append(key)
            continue
        _release(registry, name, set(taken))
        method, path = wanted[key]
        raise RouteConflict(
            f"{method} {path} in {environment} is already routed to service {holder!r}; "
            f"choose another path, or remove the route from {holder!r} first",
            details={"method": method, "path": path, "service": holder},
        )


def _take(registry: Registry, key: str, *, environment: str, name: str) -> str | None:
    """Claim ``key`` for ``name``; the service holding it instead, or ``None``."""
    claims = registry.db["claims"]
    now = datetime.now(UTC)
    claim = {"_id": key, "environment": environment, "service": name, "claimedAt": now}
    try:
        claims.insert_one(claim)
        return None
    except DuplicateKeyError:
        holder = claims.find_one({"_id": key}) or {}
    other = str(holder.get("service", "another service"))
    if other == name:
        return None
    # A claim whose service's record does not route it is left over from a write
    # that died half-way; once it is clearly not a write in flight, take it over.
    claimed_at = holder.get("claimedAt")
    if claimed_at is None or now - claimed_at < _ORPHAN_AGE or _routes(registry, key, other):
        return other
    taken = claims.replace_one({"_id": key, "service": other}, claim)
    return None if taken.matched_count else other


def _routes(registry: Registry, key: str, service: str) -> bool:
    environment, method, path = key.split(" ", 2)
    record = registry.db["services"].find_one({"_id": _key(environment, service)}) or {}
    return any(
        route["path"] == path and method in route["methods"] for route in record.get("routes", [])
    )


def _release(registry: Registry, name: str, keys: set[str]) -> None:
    if keys:
        registry.db["claims"].delete_many({"_id": {"$in": sorted(keys)}, "service": name})


@router.get(
    "/services/{environment}/{name}", response_model=ServiceOut, response_model_exclude_unset=True
)
def get_service(
    environment: Environment, name: str = NamePath, registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    doc = registry.db["services"].find_one({"_id": _key(environment.value, name)})
    if doc is None:
        raise NotFound(f"service {name!r} is not registered in {environment.value}")
    return _public(doc)


@router.get("/services", response_model=ServiceList, response_model_exclude_unset=True)
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


@router.delete("/services/{environment}/{name}", response_model=Deleted)
def delete_service(
    environment: Environment, name: str = NamePath, registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    """Remove a record and free its routes."""
    with registry.changes.lock:
        record = registry.db["services"].find_one_and_delete({"_id": _key(environment.value, name)})
        if record is None:
            raise NotFound(f"service {name!r} is not registered in {environment.value}")
        _release(registry, name, set(_claims(environment.value, record["routes"])))
        entry = registry.record(
            kind="service", op="delete", service=name, environment=environment.value
        )
    log.info("Service %s in %s removed at version %d.", name, environment.value, entry["version"])
    registry.publisher.publish(entry)
    return {"name": name, "environment": environment.value, "version": entry["version"]}


@router.get("/routes", response_model=RouteTable)
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


@router.get("/routes/changes", response_model=RouteChanges, response_model_exclude_none=True)
def route_changes(
    since: int = Query(ge=0), registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    """Service changes after ``since``; 410 when the log no longer reaches back that far."""
    version, changes = registry.changes.since(since, kind="service")
    return {"version": version, "changes": changes}
