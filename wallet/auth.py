"""Who may call the wallet.

Services (the operator, the gateway, the identity service, the CLI in an
operator's hands) send ``X-Internal-Key`` and may do everything. Org members
may *read* their own org's wallet with an access token from the identity
service, when ``TAWA_IDENTITY_JWKS_URL`` is set. Writes stay service-only:
purchases have no payment provider yet, so a member token must not mint tokens.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from tawa.tokens import TokenVerifier
from tawa.web import Forbidden, Unauthorized


@dataclass(frozen=True, slots=True)
class Caller:
    is_service: bool
    orgs: frozenset[str] = frozenset()

    def may_read(self, org: str) -> bool:
        return self.is_service or org in self.orgs

    def require_service(self) -> None:
        if not self.is_service:
            raise Forbidden("this wallet operation needs the X-Internal-Key of a platform service")


class Gatekeeper:
    def __init__(self, *, internal_key: str, verifier: TokenVerifier | None = None) -> None:
        self._internal_key = internal_key.encode()
        self._verifier = verifier

    async def __call__(self, request: Request) -> Caller:
        presented = request.headers.get("x-internal-key")
        if presented is not None:
            if self._internal_key and hmac.compare_digest(presented.encode(), self._internal_key):
                return Caller(is_service=True)
            raise Unauthorized("the X-Internal-Key header is not valid")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if self._verifier is not None and scheme.lower() == "bearer" and token:
            return Caller(is_service=False, orgs=_orgs(await self._verifier.verify(token)))
        raise Unauthorized("send X-Internal-Key, or a bearer token of a member of the org")


def _orgs(claims: dict[str, Any]) -> frozenset[str]:
    """Org slugs a token speaks for: ``orgSlug`` plus the ``orgs`` list."""
    slugs = {claims["orgSlug"]} if isinstance(claims.get("orgSlug"), str) else set()
    for org in claims.get("orgs") or []:
        # Bio-ID's passport lists memberships as {"orgSlug", "orgId", "roles", ...}.
        slug = org.get("orgSlug") if isinstance(org, dict) else org
        if isinstance(slug, str):
            slugs.add(slug)
    return frozenset(slugs)
