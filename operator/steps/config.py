"""The config step: values set with ``tawa config set`` reach the pods.

The registry keeps each service's config values per environment. Values may
be secrets, so they travel as a Secret ``{service}-config`` that the release
mounts with ``envFrom``, never as plain env. Kubernetes lets a container's
``env`` win over ``envFrom``, so the platform's own variables cannot be
overridden this way. The Secret's checksum (``ctx.facts["secret_checksums"]``)
rolls the pods when a value changes.

When the registry cannot be reached, the Secret already written keeps serving
(the step says so and the drift timer tries again); a first deploy without it
waits. Without a registry URL there is nothing to deliver. The step owns no
condition: a problem shows in the pipeline's message.

Wiring: list it in ``tawa.operator.pipeline.STEPS`` between ``links`` and
``release`` (``"config": "config"``).
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import kopf

from tawa.clients.registry import RegistryClient, RegistryRejected, RegistryUnavailable
from tawa.errors import TawaError
from tawa.operator.kube_secrets import KubeSecrets, Owner, SecretStore, StoredSecret
from tawa.operator.step import Outcome, StepContext

_DEFAULT_DELAY = 15.0


def secret_name(service: str) -> str:
    return f"{service}-config"


class ConfigStep:
    name: ClassVar[str] = "config"
    condition: ClassVar[str] = ""

    def __init__(self, settings: Any, *, secrets: SecretStore | None = None) -> None:
        self.settings = settings
        self._secrets = secrets

    async def ensure(self, ctx: StepContext) -> Outcome:
        url = str(getattr(self.settings, "registry_url", "") or "")
        if not url:
            message = "No registry is configured (TAWA_REGISTRY_URL is empty); no config values."
            return Outcome(ok=True, reason="Skipped", message=message)
        name = secret_name(ctx.name)
        try:
            current = await self._store().read(ctx.namespace, name)
            values = await self._values(url, ctx)
        except RegistryUnavailable as exc:
            return self._keep(ctx, current_exists=current is not None, why=exc.message)
        except TawaError as exc:
            raise kopf.TemporaryError(exc.message, delay=self._delay()) from exc

        if not values:
            if current is not None:
                await self._store().delete(ctx.namespace, name)
            return Outcome(ok=True, reason="NoConfig", message="No config values are set.")
        changed = current is None or current.data != values
        if changed:
            await self._store().write(
                ctx.namespace, name, StoredSecret(values), owner=Owner(ctx.name, ctx.uid)
            )
        self._hand_over(ctx, name, values)
        keys = ", ".join(sorted(values))
        return Outcome(
            ok=True, reason="Delivered", message=f"Config values {keys} delivered.", changed=changed
        )

    async def remove(self, ctx: StepContext) -> None:
        try:
            await self._store().delete(ctx.namespace, secret_name(ctx.name))
        except TawaError as exc:
            raise kopf.TemporaryError(exc.message, delay=self._delay()) from exc

    async def _values(self, url: str, ctx: StepContext) -> dict[str, str]:
        key = self.settings.internal_key.get_secret_value()
        async with RegistryClient(url, internal_key=key) as registry:
            try:
                return await registry.get_config(ctx.environment, ctx.name)
            except RegistryRejected as exc:
                if exc.status in (401, 403):
                    raise RegistryRejected(
                        "The registry refused the operator's internal key; check "
                        "TAWA_INTERNAL_KEY.",
                        status=exc.status,
                    ) from exc
                raise

    def _keep(self, ctx: StepContext, *, current_exists: bool, why: str) -> Outcome:
        if not current_exists:
            raise kopf.TemporaryError(
                f"{why}; the service's config values are not known yet.", delay=self._delay()
            )
        ctx.secret_refs.append(secret_name(ctx.name))
        ctx.logger.warning(f"{why}; {ctx.name} keeps the config values it had.")
        return Outcome(
            ok=True,
            reason="RegistryUnreachable",
            message=f"{why}; the config values delivered before stay in use.",
        )

    def _hand_over(self, ctx: StepContext, name: str, values: dict[str, str]) -> None:
        ctx.secret_refs.append(name)
        checksum = hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()
        ctx.facts.setdefault("secret_checksums", {})[name] = checksum

    def _store(self) -> SecretStore:
        if self._secrets is None:
            from tawa.operator.kube import api_client

            self._secrets = KubeSecrets(api_client(getattr(self.settings, "kubeconfig", None)))
        return self._secrets

    def _delay(self) -> float:
        return float(getattr(self.settings, "retry_delay", _DEFAULT_DELAY))
