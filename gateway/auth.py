"""Who is calling: bearer tokens turned into an :class:`Identity`.

Signature, issuer, audience and times are checked by the kernel's
:class:`tawa.tokens.TokenVerifier`. This module adds what the gateway needs
around it: reading the ``Authorization`` header, a short-lived cache of tokens
already verified (an RS256 check costs more than the whole proxy hop), and the
mapping from claims to the ``X-Tawa-*`` headers an upstream receives.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tawa.tokens import InvalidToken


class Verifier(Protocol):
    async def verify(self, token: str) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    org: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    client: str
    orgs: frozenset[str]
    """Every org the caller belongs to: the orgs it may bill with ``X-Bill-Org``."""
    expires_at: float
    headers: tuple[tuple[str, str], ...] = ()
    """The identity as the ``X-Tawa-*`` headers forwarded upstream (built once)."""

    def may_bill(self, org: str) -> bool:
        return org in self.orgs


def identity_from_claims(claims: Mapping[str, Any]) -> Identity:
    org = str(claims.get("orgSlug") or claims.get("orgId") or "")
    orgs = {org} if org else set()
    for entry in claims.get("orgs") or ():
        if isinstance(entry, str):
            orgs.add(entry)
        elif isinstance(entry, Mapping):
            orgs.update(str(entry[k]) for k in ("slug", "orgSlug", "id", "orgId") if entry.get(k))
    user = str(claims.get("sub") or "")
    roles = tuple(str(role) for role in claims.get("roles") or ())
    scopes = _scopes(claims)
    client = str(claims.get("client_id") or "")
    headers = (
        ("X-Tawa-User", _header_value(user)),
        ("X-Tawa-Org", _header_value(org)),
        ("X-Tawa-Roles", _header_value(",".join(roles))),
        ("X-Tawa-Scopes", _header_value(" ".join(scopes))),
        ("X-Tawa-Client", _header_value(client)),
    )
    return Identity(
        user=user,
        org=org,
        roles=roles,
        scopes=scopes,
        client=client,
        orgs=frozenset(orgs),
        expires_at=float(claims.get("exp") or 0),
        headers=headers,
    )


def bearer_token(authorization: bytes | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header; None when there is none."""
    if authorization is None:
        return None
    scheme, _, token = authorization.decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header is not a bearer token")
    return token.strip()


class Authenticator:
    """Verifies tokens, remembering recent successes for ``ttl`` seconds.

    A cached identity is never used past its token's ``exp``; the cache is
    bounded and forgets the least recently used token first.
    """

    def __init__(self, verifier: Verifier, *, size: int = 10_000, ttl: float = 30.0) -> None:
        self.verifier = verifier
        self.size = size
        self.ttl = ttl
        self._cache: OrderedDict[str, tuple[float, Identity]] = OrderedDict()

    async def identify(self, token: str) -> Identity:
        now = time.time()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            self._cache.move_to_end(token)
            return hit[1]

        identity = identity_from_claims(await self.verifier.verify(token))
        valid_until = min(now + self.ttl, identity.expires_at or now + self.ttl)
        self._cache[token] = (valid_until, identity)
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return identity


def _scopes(claims: Mapping[str, Any]) -> tuple[str, ...]:
    scopes = str(claims.get("scope") or "").split()
    permissions = claims.get("permissions")
    if isinstance(permissions, Mapping):
        scopes += [str(s) for s in permissions.get("scopes") or () if str(s) not in scopes]
    return tuple(scopes)


def _header_value(value: str) -> str:
    # Header values must be latin-1 and single-line; claims are ours but be strict.
    cleaned = "".join(ch for ch in value if ch >= " " and ch != "\x7f")
    return cleaned.encode("latin-1", "replace").decode("latin-1")
