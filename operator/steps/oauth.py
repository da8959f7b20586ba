"""The OAuth step: one Bio-ID client per service and environment.

When ``spec.auth`` is set (``sso`` or ``service-only``), the service gets the
client ``{service}-{environment}`` and a Secret ``{service}-oauth`` holding
``BIO_CLIENT_ID``, ``BIO_CLIENT_SECRET`` and ``BIO_ID_URL``. ``sso`` clients
may use the authorization code flow with the one redirect URI
``https://{hostname}/api/auth/callback``; ``service-only`` clients get
client credentials only and no redirect URI. Both may refresh nothing they
were not granted: scopes come only from approved grants, which this step
requests for every ``dependencies`` entry.

The identity service shows a secret only when it creates or rotates one, so
the Secret in the namespace is the only copy. An existing client with its
Secret in place is left alone; a client whose Secret was lost is rotated.
Removing ``spec.auth`` or the service removes the client and the Secret.

Not configured (no ``TAWA_INTERNAL_KEY`` or identity URL) means the step
skips and says so. An unreachable identity service is a temporary error.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import kopf

from tawa.clients.identity import IdentityClient, IdentityClientError, IdentityUnreachable
from tawa.errors import TawaError
from tawa.operator.kube_secrets import KubeSecrets, Owner, SecretStore, StoredSecret
from tawa.operator.step import Outcome, StepContext
from tawa.resource import AuthMode, hostname_for

_RETRY_DELAY = 20.0
"""Seconds before a retry when the settings name none (``TAWA_RETRY_DELAY``)."""
CLIENT_ID_KEY = "BIO_CLIENT_ID"
SECRET_KEY = "BIO_CLIENT_SECRET"  # noqa: S105 (the name of a key, not a secret)
URL_KEY = "BIO_ID_URL"
CLIENT_ANNOTATION = "tawa.insureco.io/oauth-client"


def secret_name(service: str) -> str:
    return f"{service}-oauth"


def client_id_for(service: str, environment: str) -> str:
    return f"{service}-{environment}"


class OAuthStep:
    name: ClassVar[str] = "oauth"
    condition: ClassVar[str] = "OAuthReady"

    def __init__(
        self,
        settings: Any,
        *,
        secrets: SecretStore | None = None,
        identity: IdentityClient | None = None,
    ) -> None:
        self._settings = settings
        self._secrets = secrets
        self._identity = identity

    async def ensure(self, ctx: StepContext) -> Outcome:
        if not self._is_configured():
            return Outcome(
                ok=True,
                reason="IdentityNotConfigured",
                message="No identity service is configured (TAWA_IDENTITY_URL and "
                "TAWA_INTERNAL_KEY); the service gets no OAuth client.",
            )
        try:
            if ctx.spec.auth is None:
                return await self._ensure_absent(ctx)
            return await self._ensure_present(ctx)
        except IdentityUnreachable as error:
            raise kopf.TemporaryError(
                f"No OAuth client yet: {error.message}; retrying in {self._retry_delay():.0f}s.",
                delay=self._retry_delay(),
            ) from error
        except IdentityClientError as error:
            raise kopf.PermanentError(
                f"The identity service refused the OAuth client: {error.message}. "
                "Fix spec.hostname or spec.dependencies and apply again."
            ) from error
        except TawaError as error:
            raise kopf.TemporaryError(
                f"{error.message} Retrying in {self._retry_delay():.0f}s.",
                delay=self._retry_delay(),
            ) from error

    async def remove(self, ctx: StepContext) -> None:
        if not self._is_configured():
            return
        try:
            await self._delete(ctx)
        except TawaError as error:
            raise kopf.TemporaryError(
                f"{error.message} The OAuth client is not removed yet; retrying.",
                delay=self._retry_delay(),
            ) from error

    # --- present ------------------------------------------------------------------------------

    async def _ensure_present(self, ctx: StepContext) -> Outcome:
        client_id = client_id_for(ctx.name, ctx.environment)
        sso = ctx.spec.auth.mode == AuthMode.SSO
        ensured = await self._client().ensure_client(
            client_id,
            redirect_uris=[self._redirect_uri(ctx)] if sso else [],
            grant_types=(
                ["authorization_code", "refresh_token", "client_credentials"]
                if sso
                else ["client_credentials"]
            ),
            org=ctx.spec.owner,
            name=ctx.name,
        )
        changed = await self._deliver(ctx, client_id, ensured.secret)
        pending = await self._request_grants(ctx, client_id)

        where = secret_name(ctx.name)
        message = f"OAuth client {client_id} is ready; its credentials are in Secret {where}."
        if pending:
            message += f" Scope grants waiting for approval: {', '.join(pending)}."
        return Outcome(ok=True, reason="Provisioned", message=message, changed=changed)

    async def _deliver(self, ctx: StepContext, client_id: str, fresh: Any) -> bool:
        """Write the Secret when the secret is new or the Secret lost or stale."""
        name = secret_name(ctx.name)
        current = await self._store().read(ctx.namespace, name)
        secret_value: str | None = fresh.get_secret_value() if fresh is not None else None
        changed = False
        if secret_value is None:
            if (
                current is None
                or current.data.get(CLIENT_ID_KEY) != client_id
                or not current.data.get(SECRET_KEY)
            ):
                # Only the Secret held the secret: issue a new one.
                ctx.logger.info("OAuth client %s has no Secret; rotating its secret.", client_id)
                secret_value = (await self._client().rotate_secret(client_id)).get_secret_value()
            else:
                secret_value = current.data[SECRET_KEY]
        wanted = StoredSecret(
            data={CLIENT_ID_KEY: client_id, SECRET_KEY: secret_value, URL_KEY: self._bio_id_url()},
            annotations={CLIENT_ANNOTATION: client_id},
        )
        if current is None or current.data != wanted.data:
            await self._store().write(ctx.namespace, name, wanted, owner=Owner(ctx.name, ctx.uid))
            ctx.logger.info(
                "Delivered the credentials of OAuth client %s in Secret %s.", client_id, name
            )
            changed = True
        ctx.secret_refs.append(name)
        checksum = hashlib.sha256(repr(sorted(wanted.data.items())).encode()).hexdigest()
        ctx.facts.setdefault("secret_checksums", {})[name] = checksum
        return changed

    async def _request_grants(self, ctx: StepContext, client_id: str) -> list[str]:
        """Ask for every dependency's scopes; the scopes still pending."""
        pending: list[str] = []
        for dependency in ctx.spec.dependencies:
            if not dependency.scopes:
                continue
            grants = await self._client().request_grants(
                consumer=client_id,
                provider=dependency.service,
                environment=ctx.environment,
                scopes=list(dependency.scopes),
            )
            pending.extend(g.scope for g in grants if g.status != "approved")
        return pending

    # --- absent -------------------------------------------------------------------------------

    async def _ensure_absent(self, ctx: StepContext) -> Outcome:
        existing = await self._store().read(ctx.namespace, secret_name(ctx.name))
        if existing is None:
            return Outcome(
                ok=True, reason="NotRequested", message="spec.auth is not set; no OAuth client."
            )
        await self._delete(ctx)
        return Outcome(
            ok=True,
            reason="Removed",
            message="spec.auth was removed; the OAuth client and its Secret are gone.",
            changed=True,
        )

    async def _delete(self, ctx: StepContext) -> None:
        client_id = client_id_for(ctx.name, ctx.environment)
        await self._client().delete_client(client_id)
        await self._store().delete(ctx.namespace, secret_name(ctx.name))
        ctx.logger.info("Removed OAuth client %s and Secret %s.", client_id, secret_name(ctx.name))

    # --- plumbing -----------------------------------------------------------------------------

    def _is_configured(self) -> bool:
        if self._identity is not None:
            return True
        key = getattr(self._settings, "internal_key", None)
        has_key = bool(key.get_secret_value()) if key is not None else False
        return has_key and bool(getattr(self._settings, "identity_url", ""))

    def _retry_delay(self) -> float:
        return float(getattr(self._settings, "retry_delay", _RETRY_DELAY))

    def _redirect_uri(self, ctx: StepContext) -> str:
        base_domain = getattr(self._settings, "base_domain", None)
        host = ctx.spec.hostname or (
            hostname_for(ctx.name, ctx.environment, base_domain)
            if base_domain
            else hostname_for(ctx.name, ctx.environment)
        )
        return f"https://{host}/api/auth/callback"

    def _bio_id_url(self) -> str:
        pod_url = getattr(self._settings, "pod_bio_id_url", None)
        if callable(pod_url):
            return str(pod_url())
        return str(getattr(self._settings, "identity_url", "")).rstrip("/")

    def _client(self) -> IdentityClient:
        if self._identity is None:
            self._identity = IdentityClient(
                self._settings.identity_url,
                internal_key=self._settings.internal_key.get_secret_value(),
            )
        return self._identity

    def _store(self) -> SecretStore:
        if self._secrets is None:
            from tawa.operator.kube import api_client

            self._secrets = KubeSecrets(api_client(getattr(self._settings, "kubeconfig", None)))
        return self._secrets
