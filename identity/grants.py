"""Scope grants: a service asking to call another service's API scopes.

The operator files one request per scope of each ``dependencies`` entry.
When the consumer's client and the provider's client belong to the same org
the grant is approved at once and the scope joins the consumer's client;
otherwise it waits, ``pending``, for an admin of the provider's org.
"""

from __future__ import annotations

from typing import Any

from tawa.identity import clients
from tawa.identity.core import Backend, now
from tawa.identity.errors import NotFound


def request(
    backend: Backend, *, consumer: str, provider: str, environment: str, scopes: list[str]
) -> list[dict[str, Any]]:
    """File (or find) a grant per scope; returns their current state."""
    consumer_client = clients.get_client(backend, consumer)
    provider_client = backend.db["clients"].find_one({"_id": f"{provider}-{environment}"})
    same_org = bool(
        provider_client
        and consumer_client.get("org_slug")
        and provider_client.get("org_slug") == consumer_client.get("org_slug")
    )
    results = []
    for scope in clients.check_scopes(scopes):
        key = {"consumer": consumer, "scope": scope}
        backend.db["grants"].update_one(
            key,
            {
                "$setOnInsert": {
                    "_id": f"{consumer}:{scope}",
                    "provider": provider,
                    "status": "pending",
                    "created_at": now(),
                }
            },
            upsert=True,
        )
        if same_org:
            _approve(backend, consumer=consumer, scope=scope, how="same-org")
        results.append(public_grant(backend.db["grants"].find_one(key)))
    return results


def approve(backend: Backend, grant_id: str) -> dict[str, Any]:
    grant = backend.db["grants"].find_one({"_id": grant_id})
    if grant is None:
        raise NotFound(f"no grant {grant_id!r}")
    _approve(backend, consumer=grant["consumer"], scope=grant["scope"], how="admin")
    return public_grant(backend.db["grants"].find_one({"_id": grant_id}))


def _approve(backend: Backend, *, consumer: str, scope: str, how: str) -> None:
    backend.db["grants"].update_one(
        {"consumer": consumer, "scope": scope},
        {"$set": {"status": "approved", "approved_by": how, "approved_at": now()}},
    )
    backend.db["clients"].update_one(
        {"_id": consumer}, {"$addToSet": {"scopes": scope, "granted_scopes": scope}}
    )


def listed(backend: Backend, *, consumer: str | None = None) -> list[dict[str, Any]]:
    query = {"consumer": consumer} if consumer else {}
    return [public_grant(g) for g in backend.db["grants"].find(query)]


def public_grant(grant: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": grant["_id"],
        "consumer": grant["consumer"],
        "provider": grant["provider"],
        "scope": grant["scope"],
        "status": grant["status"],
    }
