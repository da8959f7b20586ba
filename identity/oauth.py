"""The OAuth 2.1 grants: authorization code with PKCE, refresh with rotation,
client credentials, and revocation.

Replays are treated as theft. A code presented a second time revokes every
token the first exchange issued; a refresh token presented after it was
rotated revokes its whole family. Both are single atomic updates in MongoDB
(``find_one_and_update`` on the unused state), so two racing requests cannot
both win.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tawa.identity import accounts, minting
from tawa.identity.core import Backend, digest, new_secret, now
from tawa.identity.errors import OAuthError, invalid_grant, invalid_request

VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str


def check_authorization(
    backend: Backend, params: dict[str, str]
) -> tuple[dict[str, Any], AuthorizationRequest]:
    """Validate an authorization request.

    Errors about the client or its redirect URI are raised as ``OAuthError``
    with ``status`` 400 and must be shown to the user, never redirected; the
    rest are raised as :class:`RedirectableError`.
    """
    client = backend.db["clients"].find_one({"_id": params.get("client_id", "")})
    if client is None:
        raise invalid_request("unknown client_id")
    redirect_uri = params.get("redirect_uri", "")
    # Exact string comparison: no prefix, no normalisation, no wildcard.
    if redirect_uri not in client.get("redirect_uris", []):
        raise invalid_request("redirect_uri is not registered for this client")

    def fail(code: str, description: str) -> RedirectableError:
        return RedirectableError(
            code, description, redirect_uri=redirect_uri, state=params.get("state")
        )

    if params.get("response_type") != "code":
        raise fail("unsupported_response_type", "only response_type=code is supported")
    if "authorization_code" not in client.get("grant_types", []):
        raise fail("unauthorized_client", "this client may not use the authorization code grant")
    challenge = params.get("code_challenge", "")
    if not challenge:
        raise fail("invalid_request", "code_challenge is required (PKCE)")
    if params.get("code_challenge_method") != "S256":
        raise fail("invalid_request", "code_challenge_method must be S256")
    if not CHALLENGE.match(challenge):
        raise fail("invalid_request", "code_challenge is malformed")
    scope = allowed_scope(client, params.get("scope", "openid"), user_flow=True)
    if scope is None:
        raise fail("invalid_scope", "a requested scope is not allowed for this client")
    request = AuthorizationRequest(
        client_id=client["_id"],
        redirect_uri=redirect_uri,
        scope=scope,
        state=params.get("state"),
        nonce=params.get("nonce"),
        code_challenge=challenge,
    )
    return dict(client), request


class RedirectableError(OAuthError):
    def __init__(
        self, code: str, description: str, *, redirect_uri: str, state: str | None
    ) -> None:
        super().__init__(code, description)
        self.redirect_uri = redirect_uri
        self.state = state


def allowed_scope(client: dict[str, Any], requested: str, *, user_flow: bool) -> str | None:
    """The requested scope if the client may have all of it, else None."""
    allowed = set(client.get("scopes", []))
    if user_flow:
        allowed |= minting.OIDC_SCOPES
    wanted = requested.split() if requested else sorted(client.get("scopes", []))
    if any(s not in allowed for s in wanted) or len(wanted) > 50:
        return None
    return " ".join(dict.fromkeys(wanted))


def issue_code(
    backend: Backend, request: AuthorizationRequest, *, bio_id: str, auth_time: float
) -> str:
    code = new_secret()
    expires = now() + backend.settings.code_ttl
    backend.db["codes"].insert_one(
        {
            "_id": digest(code),
            "client_id": request.client_id,
            "redirect_uri": request.redirect_uri,
            "scope": request.scope,
            "nonce": request.nonce,
            "challenge": request.code_challenge,
            "bio_id": bio_id,
            "auth_time": auth_time,
            "used": False,
            "exp": expires,
            # Kept past its expiry so a late replay is still recognised.
            "expires_at": datetime.fromtimestamp(expires + 3600, UTC),
        }
    )
    return code


def exchange_code(
    backend: Backend, client: dict[str, Any], *, code: str, redirect_uri: str, verifier: str
) -> dict[str, Any]:
    if not code:
        raise invalid_request("code is required")
    codes = backend.db["codes"]
    record = codes.find_one_and_update(
        {"_id": digest(code), "used": False}, {"$set": {"used": True}}
    )
    if record is None:
        replayed = codes.find_one({"_id": digest(code)})
        if replayed is not None:
            revoke_family(backend, replayed["_id"])
            log.warning(
                "An authorization code of client %s was used twice; revoked what it issued.",
                replayed["client_id"],
            )
        raise invalid_grant("the authorization code is invalid, expired or already used")
    if record["client_id"] != client["_id"] or record["exp"] < now():
        raise invalid_grant("the authorization code is invalid, expired or already used")
    if record["redirect_uri"] != redirect_uri:
        raise invalid_grant("redirect_uri does not match the authorization request")
    if not VERIFIER.match(verifier or ""):
        raise invalid_grant("code_verifier is missing or malformed")
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    if not hmac.compare_digest(computed.decode(), record["challenge"]):
        raise invalid_grant("code_verifier does not match the code_challenge")

    user = accounts.get_user(backend, record["bio_id"])
    family = record["_id"]
    answer = _user_tokens(
        backend, user, client_id=client["_id"], scope=record["scope"], family=family
    )
    if "openid" in record["scope"].split():
        answer["id_token"] = minting.id_token(
            backend,
            user=user,
            client_id=client["_id"],
            nonce=record.get("nonce"),
            auth_time=record["auth_time"],
            access=answer["access_token"],
        )
    return answer


def refresh(
    backend: Backend, client: dict[str, Any], *, token: str, scope: str | None
) -> dict[str, Any]:
    if not token:
        raise invalid_request("refresh_token is required")
    tokens = backend.db["refresh_tokens"]
    record = tokens.find_one_and_update(
        {"_id": digest(token), "status": "active"}, {"$set": {"status": "used", "used_at": now()}}
    )
    if record is None:
        stale = tokens.find_one({"_id": digest(token)})
        if stale is not None and stale["status"] == "used":
            revoke_family(backend, stale["family"])
            log.warning(
                "A rotated refresh token of client %s was reused; revoked its family.",
                stale["client_id"],
            )
        raise invalid_grant("the refresh token is invalid, expired or revoked")
    if record["client_id"] != client["_id"] or record["exp"] < now():
        raise invalid_grant("the refresh token is invalid, expired or revoked")
    granted = record["scope"].split()
    if scope and any(s not in granted for s in scope.split()):
        raise OAuthError("invalid_scope", "a refresh may only narrow the granted scope")
    user = accounts.get_user(backend, record["bio_id"])
    return _user_tokens(
        backend,
        user,
        client_id=client["_id"],
        scope=scope or record["scope"],
        family=record["family"],
    )


def _user_tokens(
    backend: Backend, user: dict[str, Any], *, client_id: str, scope: str, family: str
) -> dict[str, Any]:
    passport = minting.user_passport(backend, user, scope=scope)
    access, ttl = minting.access_token(
        backend,
        subject=user["_id"],
        client_id=client_id,
        scope=scope,
        passport=passport,
        family=family,
    )
    refresh_token = new_secret()
    expires = now() + backend.settings.refresh_token_ttl
    backend.db["refresh_tokens"].insert_one(
        {
            "_id": digest(refresh_token),
            "family": family,
            "client_id": client_id,
            "bio_id": user["_id"],
            "scope": scope,
            "status": "active",
            "exp": expires,
            "expires_at": datetime.fromtimestamp(expires, UTC),
        }
    )
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "refresh_token": refresh_token,
        "scope": scope,
    }


def client_credentials(
    backend: Backend, client: dict[str, Any], *, scope: str | None
) -> dict[str, Any]:
    if "client_credentials" not in client.get("grant_types", []):
        raise OAuthError("unauthorized_client", "this client may not use client_credentials")
    granted = allowed_scope(client, scope or "", user_flow=False)
    if granted is None:
        raise OAuthError("invalid_scope", "a requested scope is not granted to this client")
    passport = minting.service_passport(backend, client, scope=granted)
    access, ttl = minting.access_token(
        backend,
        subject=client["_id"],
        client_id=client["_id"],
        scope=granted,
        passport=passport,
        family=None,
    )
    return {"access_token": access, "token_type": "Bearer", "expires_in": ttl, "scope": granted}


def revoke_family(backend: Backend, family: str) -> None:
    backend.db["refresh_tokens"].update_many({"family": family}, {"$set": {"status": "revoked"}})
    backend.db["issued"].update_many({"family": family}, {"$set": {"revoked": True}})


def revoke(backend: Backend, client: dict[str, Any], *, token: str) -> None:
    """RFC 7009: revoke a refresh token (and its family) or an access token."""
    record = backend.db["refresh_tokens"].find_one({"_id": digest(token)})
    if record is not None:
        if record["client_id"] == client["_id"]:
            revoke_family(backend, record["family"])
        return
    claims = minting.decode_own(backend, token)
    if claims is not None and claims.get("client_id") == client["_id"]:
        backend.db["issued"].update_one({"_id": claims["jti"]}, {"$set": {"revoked": True}})


def introspect(backend: Backend, *, token: str) -> dict[str, Any]:
    """RFC 7662: what the token is, or just ``active: false``."""
    record = backend.db["refresh_tokens"].find_one({"_id": digest(token)})
    if record is not None:
        if record["status"] != "active" or record["exp"] < now():
            return {"active": False}
        return {
            "active": True,
            "token_type": "refresh_token",
            "client_id": record["client_id"],
            "sub": record["bio_id"],
            "scope": record["scope"],
            "exp": int(record["exp"]),
        }
    claims = minting.decode_own(backend, token)
    if claims is None:
        return {"active": False}
    return {"active": True, "token_type": "access_token", **claims}
