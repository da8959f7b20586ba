"""The links step: the plain environment a service's pods receive.

``PORT``, the platform variables (``SERVICE_NAME``, ``APP_URL``,
``BIO_ID_URL``, ``JANUS_URL``), the service's ``config`` values and one
``{SERVICE}_URL`` per dependency (reference 2.5.3):

- ``internalDependencies`` with ``direct``, ``dependencies`` with ``direct``:
  the in-cluster address ``http://{svc}.{svc}-{env}.svc.cluster.local:{port}``;
- ``janus``: the gateway's metered proxy, ``{gateway}/proxy/{svc}``;
- ``dependencies`` with ``gateway``: no variable (the caller goes through the
  public gateway with a token).

Config values never override what the platform sets; a clash is logged by
key name only. Credentials are not plain env: they arrive through the Secrets
that other steps add to ``ctx.secret_refs``. This step owns no condition.
"""

from __future__ import annotations

import re
from typing import ClassVar

import kopf

from tawa.operator.settings import OperatorSettings
from tawa.operator.step import Outcome, StepContext
from tawa.resource import (
    DependencyTransport,
    InternalTransport,
    TawaServiceSpec,
    cluster_url_for,
    env_var_name,
    hostname_for,
)

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEFAULT_DEPENDENCY_PORT = 3000


def dependency_urls(spec: TawaServiceSpec, *, gateway_url: str) -> dict[str, str]:
    """``{SERVICE}_URL`` for each dependency that gets one."""
    proxy = gateway_url.rstrip("/") + "/proxy/{}"
    urls: dict[str, str] = {}
    for internal in spec.internal_dependencies:
        if internal.transport is InternalTransport.JANUS:
            url = proxy.format(internal.service)
        else:
            url = cluster_url_for(internal.service, spec.environment, port=internal.port)
        urls[env_var_name(internal.service, "URL")] = url
    for dependency in spec.dependencies:
        if dependency.transport is DependencyTransport.GATEWAY:
            continue
        if dependency.transport is DependencyTransport.JANUS:
            url = proxy.format(dependency.service)
        else:
            url = cluster_url_for(
                dependency.service, spec.environment, port=_DEFAULT_DEPENDENCY_PORT
            )
        urls[env_var_name(dependency.service, "URL")] = url
    return urls


def platform_env(spec: TawaServiceSpec, settings: OperatorSettings) -> dict[str, str]:
    host = spec.hostname or hostname_for(spec.name, spec.environment, settings.base_domain)
    return {
        "PORT": str(spec.port),
        "SERVICE_NAME": spec.name,
        "TAWA_ENVIRONMENT": spec.environment.value,
        "APP_URL": f"https://{host}",
        "BIO_ID_URL": settings.pod_bio_id_url(),
        "JANUS_URL": settings.gateway_url.rstrip("/"),
    }


def check_config(config: dict[str, str]) -> None:
    """``kopf.PermanentError`` naming the first key that cannot be an env var name."""
    for key in config:
        if not _ENV_NAME.match(key):
            raise kopf.PermanentError(
                f"spec.config: key {key!r} is not a valid environment variable name "
                "(letters, digits and underscores, not starting with a digit)"
            )


class LinksStep:
    name: ClassVar[str] = "links"
    condition: ClassVar[str] = ""

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings

    async def ensure(self, ctx: StepContext) -> Outcome:
        spec: TawaServiceSpec = ctx.spec
        check_config(spec.config)
        platform = {
            **platform_env(spec, self.settings),
            **dependency_urls(spec, gateway_url=self.settings.gateway_url),
        }
        shadowed = sorted(set(spec.config) & (set(platform) | set(ctx.env)))
        if shadowed:
            ctx.logger.warning(
                f"Config keys {', '.join(shadowed)} are set by the platform; ignoring them."
            )
        ctx.env.update({**spec.config, **ctx.env, **platform})
        links = len(platform) - len(platform_env(spec, self.settings))
        return Outcome(
            ok=True,
            reason="Linked",
            message=f"{len(ctx.env)} environment variables, {links} dependency URLs.",
        )

    async def remove(self, ctx: StepContext) -> None:
        return None
