"""The health step: is the released service actually up?

Where the answer comes from is a setting (``TAWA_HEALTH_MODE``), because an
API server without kubelet never runs a pod:

- ``deployment`` (default, real clusters): the Deployment has observed its
  latest spec and all replicas are updated and available;
- ``http``: a GET of ``health_url_template`` (filled with the service's name,
  namespace, port and health path) answers 2xx — for local runs where a
  stand-in process serves the service;
- ``assume``: the Deployment exists; the condition says health was assumed.

Not healthy yet is a temporary error: the reconcile retries after a delay.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

import httpx
import kopf

from tawa.operator.kube import connect
from tawa.operator.settings import HealthMode, OperatorSettings
from tawa.operator.step import Outcome, StepContext
from tawa.resource import TawaServiceSpec
from tawa.upstreams import rewrite, upstream_map_from_env


def rollout_progress(deployment: dict[str, Any]) -> tuple[bool, str]:
    """Whether the rollout is complete, and a sentence saying how far it got."""
    spec, status = deployment.get("spec", {}), deployment.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    if int(status.get("observedGeneration") or 0) < int(
        deployment.get("metadata", {}).get("generation") or 0
    ):
        return False, "the Deployment has not yet observed its latest spec"
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if wanted == 0:
        return True, "scaled to zero replicas"
    done = updated >= wanted and available >= wanted
    return done, f"{available}/{wanted} replicas available, {updated} updated"


class HealthStep:
    name: ClassVar[str] = "health"
    condition: ClassVar[str] = "Healthy"

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings

    async def ensure(self, ctx: StepContext) -> Outcome:
        deployment = await connect(self.settings.kubeconfig).deployment(ctx.name, ctx.namespace)
        if deployment is None:
            self._retry(f"Deployment {ctx.name} does not exist yet.")
        mode = self.settings.health_mode
        if mode is HealthMode.ASSUME:
            return Outcome(
                ok=True,
                reason="HealthAssumed",
                message="The Deployment exists; health is assumed (TAWA_HEALTH_MODE=assume, "
                "this API server runs no pods).",
            )
        if mode is HealthMode.HTTP:
            return await self._probe(ctx)
        done, progress = rollout_progress(deployment)
        if not done:
            self._retry(f"Rollout in progress: {progress}.")
        return Outcome(ok=True, reason="RolloutComplete", message=f"Rollout complete: {progress}.")

    async def remove(self, ctx: StepContext) -> None:
        return None

    async def _probe(self, ctx: StepContext) -> Outcome:
        spec: TawaServiceSpec = ctx.spec
        if not spec.health_path:
            return Outcome(
                ok=True,
                reason="NoHealthPath",
                message="No health path (a worker); the Deployment exists.",
            )
        url = self.settings.health_url_template.format(
            name=ctx.name, namespace=ctx.namespace, port=spec.port, path=spec.health_path
        )
        url = rewrite(url, upstream_map_from_env())
        try:
            async with httpx.AsyncClient(timeout=self.settings.health_timeout) as client:
                answer = await client.get(url)
        except httpx.HTTPError as exc:
            self._retry(f"Health check {url} failed: {type(exc).__name__}.")
        if not answer.is_success:
            self._retry(f"Health check {url} answered {answer.status_code}.")
        return Outcome(
            ok=True, reason="HealthCheckPassed", message=f"{url} answered {answer.status_code}."
        )

    def _retry(self, message: str) -> NoReturn:
        raise kopf.TemporaryError(message, delay=self.settings.retry_delay)
