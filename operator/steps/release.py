"""The release step: the service's Helm release of ``charts/tawa-service``.

``ensure`` computes the chart values from the spec and what earlier steps
contributed (env, Secret names), reads the release, and upgrades only when
something differs: the values, a release stuck half-way, or a Deployment
edited or deleted by hand. An unchanged service therefore costs helm reads
and no write, which is what makes the drift timer cheap.

A release left ``pending-*`` by an operator killed mid-upgrade is recovered
here: a first install is uninstalled and redone, an upgrade is rolled back,
then the upgrade runs again. Helm failures are temporary (retried with a
delay); a missing image is the user's to fix.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, ClassVar

import kopf

from tawa.operator.helm import Helm, HelmError, Release
from tawa.operator.kube import connect
from tawa.operator.settings import OperatorSettings
from tawa.operator.step import Outcome, StepContext
from tawa.resource import TawaServiceSpec, hostname_for
from tawa.tiers import tier_spec


def split_image(reference: str) -> dict[str, str]:
    """``repo[:tag][@digest]`` as the chart's ``image`` values."""
    repository, _, digest = reference.partition("@")
    tag = "latest"
    slash = repository.rfind("/")
    if repository.rfind(":") > slash:
        repository, _, tag = repository.rpartition(":")
    return {"repository": repository, "tag": tag, "digest": digest}


def desired_values(ctx: StepContext, settings: OperatorSettings) -> dict[str, Any]:
    """The chart values for this service; the comparison key for drift."""
    spec: TawaServiceSpec = ctx.spec
    # The build step hands over the image it built from spec.source.
    image = ctx.facts.get("image") or spec.image
    if not image:
        raise kopf.PermanentError("spec.image: not set; deploy with `tawa deploy --image IMAGE`")
    tier = tier_spec(spec.tier)
    host = spec.hostname or hostname_for(spec.name, spec.environment, settings.base_domain)
    values: dict[str, Any] = {
        "nameOverride": spec.name,
        "service": {
            "environment": spec.environment.value,
            "owner": spec.owner,
            "tier": tier.tier.value,
            "framework": spec.framework.value,
        },
        "image": split_image(image),
        "replicaCount": spec.replicas,
        "port": spec.port,
        "resources": {
            "requests": {"cpu": tier.cpu_request, "memory": tier.memory},
            "limits": {"cpu": tier.cpu, "memory": tier.memory},
        },
        "healthPath": spec.health_path or "",
        "env": {k: v for k, v in sorted(ctx.env.items()) if k != "PORT"},
        "envFromSecrets": sorted(set(ctx.secret_refs)),
        "ingress": {
            "enabled": settings.ingress_enabled,
            "className": settings.ingress_class,
            "host": host,
            "tls": {"enabled": settings.ingress_tls},
        },
    }
    # Only set for images pulled from the platform's private registry.
    if ctx.facts.get("image_pull_secrets"):
        values["imagePullSecrets"] = sorted(ctx.facts["image_pull_secrets"])
    return values


def deployment_drifted(deployment: dict[str, Any] | None, values: dict[str, Any]) -> str | None:
    """What about the live Deployment differs from the values, or ``None``."""
    if deployment is None:
        return "the Deployment is missing"
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
    if not containers:
        return "the Deployment has no container"
    image = values["image"]
    wanted = f"{image['repository']}:{image['tag']}"
    if image["digest"]:
        wanted = f"{image['repository']}@{image['digest']}"
    if containers[0].get("image") != wanted:
        return f"the Deployment runs image {containers[0].get('image')!r}"
    if containers[0].get("resources") != values["resources"]:
        return "the Deployment's resources were changed"
    return None


class ReleaseStep:
    name: ClassVar[str] = "release"
    condition: ClassVar[str] = "Released"

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings
        home = settings.helm_home or Path(tempfile.mkdtemp(prefix="tawa-helm-"))
        extra = (
            ("--disable-openapi-validation",) if settings.helm_disable_openapi_validation else ()
        )
        self.helm = Helm(
            settings.helm_binary(),
            home=home,
            kubeconfig=settings.kubeconfig,
            timeout=settings.helm_timeout,
            concurrency=settings.helm_concurrency,
            install_args=extra,
        )

    async def ensure(self, ctx: StepContext) -> Outcome:
        values = desired_values(ctx, self.settings)
        try:
            current = await self._settled(ctx)
            reason = await self._upgrade_reason(ctx, current, values)
            if reason is None and current is not None:
                return self._report(ctx, current, changed=False)
            ctx.logger.info(f"Releasing {ctx.namespace}/{ctx.name}: {reason}.")
            release = await self.helm.upgrade(
                ctx.name, ctx.namespace, chart=self.settings.chart_path, values=values
            )
        except HelmError as exc:
            raise kopf.TemporaryError(exc.message, delay=self.settings.retry_delay) from exc
        return self._report(ctx, release, changed=True)

    async def remove(self, ctx: StepContext) -> None:
        try:
            removed = await self.helm.uninstall(ctx.name, ctx.namespace)
        except HelmError as exc:
            raise kopf.TemporaryError(exc.message, delay=self.settings.retry_delay) from exc
        if removed:
            ctx.logger.info(f"Uninstalled release {ctx.namespace}/{ctx.name}.")

    async def _settled(self, ctx: StepContext) -> Release | None:
        """The release, after undoing an operation an earlier process left half-way."""
        current = await self.helm.status(ctx.name, ctx.namespace)
        if current is None or not current.is_pending:
            return current
        ctx.logger.warning(
            f"Release {ctx.namespace}/{ctx.name} was left {current.status} at revision "
            f"{current.revision}; recovering it."
        )
        if current.revision <= 1:
            await self.helm.uninstall(ctx.name, ctx.namespace)
        else:
            await self.helm.rollback(ctx.name, ctx.namespace)
        return await self.helm.status(ctx.name, ctx.namespace)

    async def _upgrade_reason(
        self, ctx: StepContext, current: Release | None, values: dict[str, Any]
    ) -> str | None:
        if current is None:
            return "first install"
        if current.status != "deployed":
            return f"the last revision is {current.status}"
        if current.values != values:
            return "the desired values changed"
        deployment = await connect(self.settings.kubeconfig).deployment(ctx.name, ctx.namespace)
        return deployment_drifted(deployment, values)

    def _report(self, ctx: StepContext, release: Release, *, changed: bool) -> Outcome:
        ctx.facts["helm_revision"] = release.revision
        ctx.facts["upstream"] = (
            f"http://{ctx.name}.{ctx.namespace}.svc.cluster.local:{ctx.spec.port}"
        )
        # The same words whether or not this run upgraded: a drift check that
        # changed nothing must not rewrite the condition.
        return Outcome(
            ok=True,
            reason="Released",
            message=f"Release {ctx.name} is at revision {release.revision}.",
            changed=changed,
        )
