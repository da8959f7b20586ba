"""Feature flags: on/off, per-org overrides and a percentage rollout.

Evaluation order: an org override wins; else a flag that is off is off; else
the subject (``subject``, or the org when no subject is given) falls in a
bucket from 0 to 9,999 by a SHA-256 of ``flag + subject``, and the flag is on
when the bucket is below ``percentage`` x 100. The hash is stable across
processes and restarts, so a subject keeps its answer while the percentage
only grows, and two flags at 10 % do not select the same subjects.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import Field

from tawa.registry.context import Registry, registry_of
from tawa.registry.errors import NotFound
from tawa.registry.models import WireModel
from tawa.resource import NAME_PATTERN

FLAG_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
BUCKETS = 10_000
router = APIRouter(prefix="/v1/flags", tags=["flags"])
public_router = APIRouter(prefix="/v1/flags", tags=["flags"])
FlagPath = Path(pattern=FLAG_PATTERN)
Org = Annotated[str, Field(pattern=NAME_PATTERN, max_length=63)]


class FlagIn(WireModel):
    enabled: bool
    percentage: float = Field(default=100.0, ge=0.0, le=100.0)
    orgs: dict[Org, bool] = Field(default_factory=dict, max_length=1000)
    """Per-org overrides: ``{"acme": true}`` turns it on for acme whatever the rest says."""
    description: str = Field(default="", max_length=500)


class EvaluateIn(WireModel):
    org: Org | None = None
    subject: str | None = Field(default=None, min_length=1, max_length=256)


def bucket(flag: str, subject: str) -> int:
    digest = hashlib.sha256(f"{flag}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def evaluate(
    flag: dict[str, Any] | None, *, name: str, org: str | None, subject: str | None
) -> tuple[bool, str]:
    """Whether ``flag`` is on for ``org`` / ``subject``, and the reason why."""
    if flag is None:
        return False, "unknown_flag"
    overrides: dict[str, bool] = flag.get("orgs") or {}
    if org is not None and org in overrides:
        return bool(overrides[org]), "org_override"
    if not flag["enabled"]:
        return False, "disabled"
    threshold = round(float(flag["percentage"]) * BUCKETS / 100)
    if threshold >= BUCKETS:
        return True, "enabled"
    who = subject or org
    if who is None:
        return False, "no_subject"
    inside = bucket(name, who) < threshold
    return inside, "rollout_in" if inside else "rollout_out"


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_id"}


@router.put("/{name}")
def put_flag(
    body: FlagIn, name: str = FlagPath, registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    doc = {"name": name, **body.model_dump(mode="json", by_alias=True)}
    doc["updatedAt"] = datetime.now(UTC)
    with registry.changes.lock:
        registry.db["flags"].replace_one({"_id": name}, {"_id": name, **doc}, upsert=True)
        entry = registry.record(kind="flag", op="upsert", flag=name)
    registry.publisher.publish(entry)
    return {**doc, "version": entry["version"]}


@router.get("")
def list_flags(registry: Registry = Depends(registry_of)) -> dict[str, Any]:
    return {"flags": [_public(doc) for doc in registry.db["flags"].find({}, sort=[("_id", 1)])]}


@router.get("/{name}")
def get_flag(name: str = FlagPath, registry: Registry = Depends(registry_of)) -> dict[str, Any]:
    doc = registry.db["flags"].find_one({"_id": name})
    if doc is None:
        raise NotFound(f"feature flag {name!r} does not exist")
    return _public(doc)


@router.delete("/{name}")
def delete_flag(name: str = FlagPath, registry: Registry = Depends(registry_of)) -> dict[str, Any]:
    with registry.changes.lock:
        if registry.db["flags"].delete_one({"_id": name}).deleted_count == 0:
            raise NotFound(f"feature flag {name!r} does not exist")
        entry = registry.record(kind="flag", op="delete", flag=name)
    registry.publisher.publish(entry)
    return {"name": name, "version": entry["version"]}


@public_router.post("/{name}/evaluate")
def evaluate_flag(
    body: EvaluateIn, name: str = FlagPath, registry: Registry = Depends(registry_of)
) -> dict[str, Any]:
    """Open to every caller inside the cluster: it answers one boolean."""
    flag = registry.db["flags"].find_one({"_id": name})
    enabled, reason = evaluate(flag, name=name, org=body.org, subject=body.subject)
    return {"flag": name, "enabled": enabled, "reason": reason}
