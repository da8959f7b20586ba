"""OAuth clients: the admin side (ensure, rotate, delete) and client
authentication at the token endpoint.

A client secret is shown once, when it is created or rotated, and stored only
as its SHA-256 (it is 256 random bits, so a slow hash adds nothing but
latency). Redirect URIs are compared as exact strings.
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from tawa.identity.core import Backend, digest, new_secret, now
from tawa.identity.errors import IdentityError, NotFound

CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,126}[a-z0-9]$")
SCOPE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
ORG_SLUG = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DUMMY_DIGEST = digest("not-a-client-secret")
log = logging.getLogger(__name__)


def check_client_id(client_id: str) -> str:
    if not CLIENT_ID.match(client_id):
        raise IdentityError(
            f"client id {client_id!r} must be lowercase letters, digits and dashes",
            code="invalid_client_id",
            status=422,
        )
    return client_id


def check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if (
        parts.fragment
        or not parts.netloc
        or not (parts.scheme == "https" or (parts.scheme == "http" and loopback))
    ):
        raise IdentityError(
            f"redirect URI {uri!r} must be an https URL (http only on loopback) without a fragment",
            code="invalid_redirect_uri",
            status=422,
        )
    return uri


def check_scopes(scopes: list[str]) -> list[str]:
    for scope in scopes:
        if not SCOPE.match(scope):
            raise IdentityError(f"scope {scope!r} is not valid", code="invalid_scope", status=422)
    return sorted(set(scopes))


def check_grant_types(grant_types: list[str] | None) -> list[str]:
    """The client's grant types; none given means all. An unknown one is refused,
    not dropped: a client left with no grant type could not get any token."""
    if not grant_types:
        return list(GRANT_TYPES)
    for grant_type in grant_types:
        if grant_type not in GRANT_TYPES:
            raise IdentityError(
                f"grant type {grant_type!r} is not supported; use any of {list(GRANT_TYPES)}",
                code="invalid_grant_type",
                status=422,
            )
    return [g for g in GRANT_TYPES if g in grant_types]


def check_org(org: str | None) -> str | None:
    if org is not None and not ORG_SLUG.match(org):
        raise IdentityError(
            f"org slug {org!r} must be lowercase letters, digits and dashes",
            code="invalid_slug",
            status=422,
        )
    return org


def ensure_client(
    backend: Backend,
    client_id: str,
    *,
    redirect_uris: list[str],
    scopes: list[str],
    org: str | None = None,
    name: str = "",
    grant_types: list[str] | None = None,
) -> tuple[dict[str, Any], str | None]:
    """Make the client match; the secret is returned only when it was created."""
    check_client_id(client_id)
    desired: dict[str, Any] = {
        "redirect_uris": [check_redirect_uri(u) for u in redirect_uris],
        "scopes": check_scopes(scopes),
        "grant_types": check_grant_types(grant_types),
        "org_slug": check_org(org),
        "name": (name or client_id)[:200],
    }
    existing = backend.db["clients"].find_one({"_id": client_id})
    if existing is not None:
        # Scopes approved through grants stay; the caller's list is added to them.
        granted = [s for s in existing.get("granted_scopes", [])]
        desired["scopes"] = sorted(set(desired["scopes"]) | set(granted))
        backend.db["clients"].update_one({"_id": client_id}, {"$set": desired})
        return {**existing, **desired}, None
    secret = new_secret()
    document = {
        "_id": client_id,
        **desired,
        "granted_scopes": [],
        "secret_digest": digest(secret),
        "created_at": now(),
    }
    backend.db["clients"].insert_one(document)
    log.info("Created OAuth client %s.", client_id)
    return document, secret


def rotate_secret(backend: Backend, client_id: str) -> str:
    secret = new_secret()
    changed = backend.db["clients"].update_one(
        {"_id": client_id}, {"$set": {"secret_digest": digest(secret), "rotated_at": now()}}
    )
    if changed.matched_count == 0:
        raise NotFound(f"no client {client_id!r}")
    log.info("Rotated the secret of OAuth client %s.", client_id)
    return secret


def delete_client(backend: Backend, client_id: str) -> bool:
    """Remove the client and everything it was issued; false if it was not there."""
    deleted: bool = backend.db["clients"].delete_one({"_id": client_id}).deleted_count > 0
    backend.db["refresh_tokens"].update_many(
        {"client_id": client_id}, {"$set": {"status": "revoked"}}
    )
    backend.db["issued"].update_many({"client_id": client_id}, {"$set": {"revoked": True}})
    backend.db["grants"].delete_many({"consumer": client_id})
    if deleted:
        log.info("Deleted OAuth client %s and revoked its tokens.", client_id)
    return deleted


def get_client(backend: Backend, client_id: str) -> dict[str, Any]:
    client = backend.db["clients"].find_one({"_id": client_id})
    if client is None:
        raise NotFound(f"no client {client_id!r}")
    return dict(client)


def authenticate(backend: Backend, client_id: str, secret: str) -> dict[str, Any] | None:
    """The client if ``secret`` is its secret; compared in constant time."""
    client = backend.db["clients"].find_one({"_id": client_id}) if client_id else None
    expected = client["secret_digest"] if client else _DUMMY_DIGEST
    matches = hmac.compare_digest(expected, digest(secret))
    return dict(client) if client is not None and matches else None


def public_client(client: dict[str, Any]) -> dict[str, Any]:
    return {
        "clientId": client["_id"],
        "name": client.get("name", ""),
        "org": client.get("org_slug"),
        "redirectUris": client.get("redirect_uris", []),
        "scopes": client.get("scopes", []),
        "grantTypes": client.get("grant_types", []),
    }
