"""What goes into the tokens we sign: the passport claims of a user or a
service, the access token around them, and the OpenID Connect ID token.

The access token is the contract other components code against
(``docs/contracts.md``): RS256, ``aud`` the platform audience, and the
passport claims ``bioId``, ``email``, ``orgSlug``, ``orgId``, ``roles``,
``orgs``, ``permissions.scopes`` and ``userType``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from tawa.identity import orgs
from tawa.identity.core import Backend, now
from tawa.identity.keys import ALGORITHM

OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})


def api_scopes(scope: str) -> list[str]:
    return sorted(s for s in scope.split() if s not in OIDC_SCOPES)


def user_passport(backend: Backend, user: dict[str, Any], *, scope: str) -> dict[str, Any]:
    memberships = orgs.memberships(backend, user["_id"])
    primary = memberships[0] if memberships else None
    display = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
    modules = sorted({m for org in memberships for m in org["modules"]})
    return {
        "bioId": user["_id"],
        "email": user["email"],
        "firstName": user.get("first_name", ""),
        "lastName": user.get("last_name", ""),
        "displayName": display or user["email"],
        "userType": user.get("user_type", "user"),
        "roles": primary["roles"] if primary else [],
        "orgSlug": primary["orgSlug"] if primary else None,
        "orgId": primary["orgId"] if primary else None,
        "orgName": primary["orgName"] if primary else None,
        "orgs": memberships,
        "modules": modules,
        "permissions": {"scopes": api_scopes(scope)},
    }


def service_passport(backend: Backend, client: dict[str, Any], *, scope: str) -> dict[str, Any]:
    org = (
        backend.db["orgs"].find_one({"slug": client.get("org_slug")})
        if client.get("org_slug")
        else None
    )
    return {
        "bioId": client["_id"],
        "email": None,
        "displayName": client.get("name", client["_id"]),
        "userType": "service",
        "roles": [],
        "orgSlug": client.get("org_slug"),
        "orgId": org["_id"] if org else None,
        "orgName": org["name"] if org else None,
        "orgs": [],
        "modules": [],
        "permissions": {"scopes": api_scopes(scope)},
    }


def access_token(
    backend: Backend,
    *,
    subject: str,
    client_id: str,
    scope: str,
    passport: dict[str, Any],
    family: str | None,
) -> tuple[str, int]:
    """A signed access token and its lifetime; recorded so it can be revoked."""
    ttl = backend.settings.access_token_ttl
    issued_at = int(now())
    jti = secrets.token_urlsafe(16)
    claims = {
        **passport,
        "iss": backend.settings.identity_issuer,
        "aud": backend.settings.token_audience,
        "sub": subject,
        "client_id": client_id,
        "scope": scope,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ttl,
        "jti": jti,
    }
    backend.db["issued"].insert_one(
        {
            "_id": jti,
            "family": family,
            "client_id": client_id,
            "sub": subject,
            "revoked": False,
            "expires_at": datetime.fromtimestamp(issued_at + ttl, UTC),
        }
    )
    return backend.keys.sign(claims, typ="at+jwt"), ttl


def id_token(
    backend: Backend,
    *,
    user: dict[str, Any],
    client_id: str,
    nonce: str | None,
    auth_time: float,
    access: str,
) -> str:
    issued_at = int(now())
    digest = hashlib.sha256(access.encode()).digest()
    claims: dict[str, Any] = {
        "iss": backend.settings.identity_issuer,
        "aud": client_id,
        "sub": user["_id"],
        "iat": issued_at,
        "exp": issued_at + backend.settings.id_token_ttl,
        "auth_time": int(auth_time),
        "at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode(),
        "email": user["email"],
        "email_verified": bool(user.get("email_verified")),
    }
    if nonce:
        claims["nonce"] = nonce
    return backend.keys.sign(claims)


def decode_own(backend: Backend, token: str) -> dict[str, Any] | None:
    """Claims of a token we signed that is still valid and not revoked, else None."""
    try:
        header_part = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
        if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
            return None
        key = backend.keys.public_key(str(header.get("kid")))
        if key is None:
            return None
        claims = dict(jwt.decode(token, key, algorithms=[ALGORITHM]).claims)
    except (JoseError, ValueError, IndexError):
        return None
    exp = claims.get("exp")
    if claims.get("iss") != backend.settings.identity_issuer or not isinstance(exp, int):
        return None
    if exp < now() or not isinstance(claims.get("jti"), str):
        return None
    record = backend.db["issued"].find_one({"_id": claims.get("jti")})
    if record is None or record.get("revoked"):
        return None
    return claims
