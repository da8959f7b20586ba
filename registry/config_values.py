"""Config values per service and environment (``tawa config set KEY=VALUE``).

Values may be secrets. They are returned only to callers holding the internal
key (the whole router requires it), never logged, and never copied into the
change log or the Redis notice, which name the keys only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path
from pydantic import Field, field_validator

from tawa.registry.context import Registry, registry_of
from tawa.registry.errors import NotFound
from tawa.registry.models import WireModel
from tawa.resource import NAME_PATTERN, Environment

router = APIRouter(prefix="/v1/config", tags=["config"])
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
MAX_VALUE_LENGTH = 64 * 1024
MAX_KEYS = 500
ServicePath = Path(pattern=NAME_PATTERN, max_length=63)
KeyPath = Path(pattern=KEY_PATTERN)


class Values(WireModel):
    values: dict[str, str] = Field(max_length=MAX_KEYS)

    @field_validator("values")
    @classmethod
    def _values(cls, values: dict[str, str]) -> dict[str, str]:
        for key, value in values.items():
            _check(key, value)
        return values


class Value(WireModel):
    value: str = Field(max_length=MAX_VALUE_LENGTH)


def _check(key: str, value: str) -> None:
    if not re.match(KEY_PATTERN, key):
        raise ValueError(f"config key {key!r} must look like an environment variable name")
    if len(value) > MAX_VALUE_LENGTH:
        raise ValueError(f"config value of {key!r} is longer than {MAX_VALUE_LENGTH} characters")


def _id(environment: Environment, service: str) -> str:
    return f"{environment.value}/{service}"


def _write(
    registry: Registry,
    environment: Environment,
    service: str,
    *,
    update: dict[str, Any],
    keys: list[str],
    op: str,
) -> dict[str, Any]:
    with registry.changes.lock:
        registry.db["config"].update_one(
            {"_id": _id(environment, service)},
            {
                **update,
                "$set": {"updatedAt": datetime.now(UTC), **update.get("$set", {})},
                "$setOnInsert": {"service": service, "environment": environment.value},
            },
            upsert=True,
        )
        entry = registry.record(
            kind="config", op=op, service=service, environment=environment.value, keys=keys
        )
    registry.publisher.publish(entry)
    return {"service": service, "environment": environment.value, "keys": keys, **entry}


@router.put("/{environment}/{service}")
def set_values(
    environment: Environment,
    body: Values,
    service: str = ServicePath,
    registry: Registry = Depends(registry_of),
) -> dict[str, Any]:
    """Set several keys at once; other keys are kept."""
    update = {"$set": {f"values.{k}": v for k, v in body.values.items()}}
    return _write(
        registry, environment, service, update=update, keys=sorted(body.values), op="upsert"
    )


@router.put("/{environment}/{service}/{key}")
def set_value(
    environment: Environment,
    body: Value,
    service: str = ServicePath,
    key: str = KeyPath,
    registry: Registry = Depends(registry_of),
) -> dict[str, Any]:
    update = {"$set": {f"values.{key}": body.value}}
    return _write(registry, environment, service, update=update, keys=[key], op="upsert")


@router.get("/{environment}/{service}")
def get_values(
    environment: Environment, service: str = ServicePath, registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    doc = registry.db["config"].find_one({"_id": _id(environment, service)}) or {}
    values = dict(sorted((doc.get("values") or {}).items()))
    return {"service": service, "environment": environment.value, "values": values}


@router.get("/{environment}/{service}/{key}")
def get_value(
    environment: Environment,
    service: str = ServicePath,
    key: str = KeyPath,
    registry: Registry = Depends(registry_of),
) -> dict[str, Any]:
    doc = registry.db["config"].find_one({"_id": _id(environment, service)}) or {}
    values = doc.get("values") or {}
    if key not in values:
        raise NotFound(f"config key {key!r} is not set for {service!r} in {environment.value}")
    return {"key": key, "value": values[key]}


@router.delete("/{environment}/{service}/{key}")
def unset_value(
    environment: Environment,
    service: str = ServicePath,
    key: str = KeyPath,
    registry: Registry = Depends(registry_of),
) -> dict[str, Any]:
    doc = registry.db["config"].find_one({"_id": _id(environment, service)}) or {}
    if key not in (doc.get("values") or {}):
        raise NotFound(f"config key {key!r} is not set for {service!r} in {environment.value}")
    update = {"$unset": {f"values.{key}": ""}}
    return _write(registry, environment, service, update=update, keys=[key], op="delete")


@router.delete("/{environment}/{service}")
def unset_all(
    environment: Environment, service: str = ServicePath, registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    doc = registry.db["config"].find_one({"_id": _id(environment, service)}) or {}
    keys = sorted(doc.get("values") or {})
    update: dict[str, Any] = {"$set": {"values": {}}}
    return _write(registry, environment, service, update=update, keys=keys, op="delete")
