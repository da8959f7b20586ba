"""Typed async client of the identity service's admin API (Bio-ID).

Used by the operator's OAuth step, the CLI and the demo. Every call carries
the internal key. Failures are translated once, here: a transport failure or
a 5xx becomes :class:`IdentityUnreachable` (retry later), any other error
answer an :class:`IdentityClientError` with the server's stable code.

Client secrets come back as ``SecretStr`` so that a stray ``repr`` or log
line shows ``**********`` instead of the secret.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

from tawa.clients._base import InternalClient, segment
from tawa.errors import TawaError, UpstreamError


class IdentityClientError(TawaError):
    """An error answer from the identity service; code and status are the server's."""

    code = "identity_error"
    status = 400


class IdentityUnreachable(UpstreamError):
    """The identity service could not be reached or failed on its side (5xx)."""

    code = "identity_unreachable"
    status = 503


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class OAuthClient(_Wire):
    client_id: str
    name: str = ""
    org: str | None = None
    redirect_uris: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=list)
    grant_types: list[str] = Field(default_factory=list)


class EnsuredClient(_Wire):
    client: OAuthClient
    secret: SecretStr | None = None
    """Set only when the client was created by this call."""

    @property
    def created(self) -> bool:
        return self.secret is not None


class Org(_Wire):
    org_id: str
    org_slug: str
    name: str
    wallet_pending: bool = False


class Member(_Wire):
    bio_id: str
    email: str
    org_slug: str
    role: str


class Grant(_Wire):
    id: str
    consumer: str
    provider: str
    scope: str
    status: str


class IdentityClient(InternalClient):
    """``async with IdentityClient(url, internal_key=...) as bio: await bio.ensure_client(...)``."""

    # --- clients -------------------------------------------------------------------------------

    async def ensure_client(
        self,
        client_id: str,
        *,
        redirect_uris: list[str],
        scopes: list[str] | None = None,
        grant_types: list[str] | None = None,
        org: str | None = None,
        name: str = "",
    ) -> EnsuredClient:
        """Create or update the client; the secret is returned only on creation."""
        body: dict[str, Any] = {
            "redirectUris": redirect_uris,
            "scopes": scopes or [],
            "org": org,
            "name": name,
        }
        if grant_types is not None:
            body["grantTypes"] = grant_types
        answer = await self._call("PUT", f"/admin/clients/{segment(client_id)}", json=body)
        secret = answer.pop("clientSecret", None)
        return EnsuredClient(
            client=OAuthClient.model_validate(answer),
            secret=SecretStr(secret) if secret else None,
        )

    async def get_client(self, client_id: str) -> OAuthClient | None:
        answer = await self._call("GET", f"/admin/clients/{segment(client_id)}", missing_ok=True)
        return None if answer is None else OAuthClient.model_validate(answer)

    async def rotate_secret(self, client_id: str) -> SecretStr:
        answer = await self._call("POST", f"/admin/clients/{segment(client_id)}/rotate")
        return SecretStr(answer["clientSecret"])

    async def delete_client(self, client_id: str) -> None:
        """Remove the client and revoke its tokens; a missing client is fine."""
        await self._call("DELETE", f"/admin/clients/{segment(client_id)}", missing_ok=True)

    # --- orgs and grants -----------------------------------------------------------------------

    async def ensure_org(self, slug: str, *, name: str = "") -> Org:
        """The org with ``slug`` (created if missing, its wallet ensured)."""
        return Org.model_validate(
            await self._call("POST", "/admin/orgs", json={"slug": slug, "name": name})
        )

    async def add_member(
        self, org: str, *, email: str, role: str = "developer", password: SecretStr | None = None
    ) -> Member:
        """Give ``email`` ``role`` in ``org``; with ``password``, create the account if new."""
        body: dict[str, Any] = {"email": email, "role": role}
        if password is not None:
            body["password"] = password.get_secret_value()
        return Member.model_validate(
            await self._call("POST", f"/admin/orgs/{segment(org)}/members", json=body)
        )

    async def request_grants(
        self, *, consumer: str, provider: str, environment: str, scopes: list[str]
    ) -> list[Grant]:
        body = {
            "consumer": consumer,
            "provider": provider,
            "environment": environment,
            "scopes": scopes,
        }
        answer = await self._call("POST", "/admin/grants", json=body)
        return [Grant.model_validate(g) for g in answer["grants"]]

    async def rotate_signing_key(self) -> str:
        return str((await self._call("POST", "/admin/keys/rotate"))["kid"])

    # --- plumbing ------------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, *, json: Any = None, missing_ok: bool = False
    ) -> Any:
        try:
            response = await self._http.request(method, path, json=json)
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            raise IdentityUnreachable(
                f"the identity service at {self._http.base_url} is unreachable ({reason})"
            ) from exc
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 500:
            raise IdentityUnreachable(
                f"the identity service answered {response.status_code} to {method} {path}"
            )
        if response.status_code >= 400:
            raise _error(response)
        return response.json() if response.content else None


def _error(response: httpx.Response) -> IdentityClientError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {"code": str(error)}
    return IdentityClientError(
        str(error.get("message") or f"the identity service answered {response.status_code}"),
        code=str(error.get("code") or "identity_error"),
        status=response.status_code,
    )
