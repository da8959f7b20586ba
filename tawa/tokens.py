"""Verify the identity service's access tokens against its JWKS.

Every component that accepts a bearer token (the gateway, the wallet, ...)
uses :class:`TokenVerifier`. It accepts RS256 only, whatever the token's header
claims, so ``alg: none`` and an HMAC signature made with the public key are
refused before any key is touched. Keys are fetched from the JWKS URL, cached,
and refetched when a token names a ``kid`` the cache does not know (at most
once per ``refresh_interval``, so a flood of made-up key ids cannot turn into a
flood of JWKS requests).

What the claims *mean* (roles, scopes, orgs) is left to the caller; this module
only says whether the token is genuine, current and meant for us.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from tawa.errors import TawaError, UpstreamError

ALGORITHM = "RS256"
log = logging.getLogger(__name__)


class InvalidToken(TawaError):
    """The token is malformed, forged, expired or meant for someone else."""

    code = "invalid_token"
    status = 401


class JwksUnavailable(UpstreamError):
    """The JWKS could not be fetched, so no token can be checked right now."""

    code = "jwks_unavailable"
    status = 503


class TokenVerifier:
    """Checks signature, issuer, audience and times of RS256 access tokens."""

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        leeway: float = 30.0,
        cache_ttl: float = 300.0,
        refresh_interval: float = 10.0,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.cache_ttl = cache_ttl
        self.refresh_interval = refresh_interval
        self._http = http
        self._clock = clock
        self._keys: dict[str, RSAKey] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or :class:`InvalidToken` saying what is wrong."""
        kid = _checked_header(token)
        key = await self._key(kid)
        try:
            claims = dict(jwt.decode(token, key, algorithms=[ALGORITHM]).claims)
        except JoseError as exc:
            raise InvalidToken("the token signature is not valid") from exc
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> None:
        now = self._clock()
        if claims.get("iss") != self.issuer:
            raise InvalidToken("the token was issued by another issuer")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.audience not in audiences:
            raise InvalidToken("the token is meant for another audience")
        exp = _number(claims, "exp", required=True)
        if exp is not None and exp + self.leeway < now:
            raise InvalidToken("the token has expired")
        nbf = _number(claims, "nbf", required=False)
        if nbf is not None and nbf - self.leeway > now:
            raise InvalidToken("the token is not valid yet")
        iat = _number(claims, "iat", required=False)
        if iat is not None and iat - self.leeway > now:
            raise InvalidToken("the token was issued in the future")

    async def _key(self, kid: str) -> RSAKey:
        if self._cache_is_stale():
            await self._refresh(force=True)
        key = self._keys.get(kid)
        if key is None:
            # A new signing key may have been rotated in since the last fetch.
            await self._refresh(force=False)
            key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("the token is signed with an unknown key")
        return key

    def _cache_is_stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > self.cache_ttl

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            fetched_at = self._fetched_at
            if fetched_at is not None:
                age = self._clock() - fetched_at
                if (force and age <= self.cache_ttl) or age < self.refresh_interval:
                    return  # another task refreshed meanwhile, or too soon to ask again
            self._keys = await self._fetch()
            self._fetched_at = self._clock()

    async def _fetch(self) -> dict[str, RSAKey]:
        try:
            if self._http is not None:
                response = await self._http.get(self.jwks_url)
            else:
                async with httpx.AsyncClient(timeout=5.0) as client:
                    response = await client.get(self.jwks_url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            if self._keys:
                log.warning(
                    "The JWKS at %s could not be refreshed; keeping cached keys.", self.jwks_url
                )
                return self._keys
            raise JwksUnavailable(f"the JWKS at {self.jwks_url} could not be fetched") from exc
        return _rsa_keys(document)


def _checked_header(token: str) -> str:
    """The ``kid`` of a compact JWS whose header asks for RS256, or refusal."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise InvalidToken("the token is not a signed JWT")
    try:
        padded = parts[0] + "=" * (-len(parts[0]) % 4)
        header = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, binascii.Error) as exc:
        raise InvalidToken("the token header cannot be decoded") from exc
    if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
        raise InvalidToken(f"the token must be signed with {ALGORITHM}")
    if "crit" in header or "jku" in header or "jwk" in header or "x5u" in header:
        raise InvalidToken("the token header carries parameters that are not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("the token header names no key id")
    return kid


def _number(claims: dict[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise InvalidToken(f"the token has no {name} claim")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"the token's {name} claim is not a number")
    return float(value)


def _rsa_keys(document: Any) -> dict[str, RSAKey]:
    keys: dict[str, RSAKey] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or "kid" not in entry:
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        public = {k: entry[k] for k in ("kty", "n", "e", "kid") if k in entry}
        try:
            keys[str(entry["kid"])] = RSAKey.import_key(public)
        except (JoseError, ValueError):
            log.warning("Ignored a malformed key %s in the JWKS.", entry.get("kid"))
    return keys
