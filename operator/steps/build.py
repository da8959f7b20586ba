"""The build step: the image of a service deployed from a commit (``spec.source``).

Runs first after the deploy gate and owns the ``Built`` condition. A service
with a prebuilt ``spec.image`` has nothing to build. For ``spec.source`` the
step keeps one build Job per commit (:mod:`tawa.operator.build_job`):

- no Job yet: create it and its ConfigMap of generated files, and wait;
- running: wait (the reconcile polls again after the retry delay);
- succeeded: hand ``{registry}/{owner}/{name}:{sha12}`` to the release step
  as ``ctx.facts["image"]`` and prune older build Jobs;
- failed: ``kopf.PermanentError`` quoting the last log lines. Building the
  same commit again would fail the same way, so nothing is deployed and the
  service waits for a new spec. To retry a commit anyway (a flaky registry),
  delete its Job and touch the TawaService (e.g. annotate it).

The log lines come from the build pod when there is one; an API server
without kubelet has no pods, so the Job's ``tawa.insureco.io/build-log``
annotation and then its ``Failed`` condition stand in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import kopf

from tawa import dockerfiles
from tawa.logs import redact
from tawa.operator import build_job
from tawa.operator.build_kube import BuildKube, connect
from tawa.operator.builder_settings import BuilderSettings
from tawa.operator.kube import KubeError
from tawa.operator.settings import OperatorSettings
from tawa.operator.step import Outcome, StepContext
from tawa.resource import TawaServiceSpec

_LOG_CHARACTERS = 1500
STARTED_ANNOTATION = "tawa.insureco.io/started-at"
COPIED_SECRET = "tawa-registry"  # noqa: S105 (a name, not a password)
"""The registry Secret's name in a service namespace when it is copied there."""
GIT_SECRET = "tawa-git"  # noqa: S105 (a name, not a password)
"""The same for the Git credentials Secret."""


class BuildStep:
    name: ClassVar[str] = "build"
    condition: ClassVar[str] = "Built"

    def __init__(self, settings: OperatorSettings, builder: BuilderSettings | None = None) -> None:
        self.settings = settings
        self.builder = builder or BuilderSettings()

    async def ensure(self, ctx: StepContext) -> Outcome:
        spec: TawaServiceSpec = ctx.spec
        if spec.source is None:
            if not spec.image:
                raise kopf.PermanentError(
                    "spec.image or spec.source: set one (`tawa deploy` from a git work tree "
                    "sets spec.source; --image IMAGE sets spec.image)."
                )
            return Outcome(True, "PrebuiltImage", f"Deploys the prebuilt image {spec.image}.")
        if not self.builder.image_registry:
            return Outcome(
                False,
                "NoRegistry",
                "The operator has no registry to push built images to: set "
                "TAWA_IMAGE_REGISTRY, or deploy a prebuilt image with spec.image.",
            )
        try:
            return await self._ensure_built(ctx, spec)
        except KubeError as exc:
            raise kopf.TemporaryError(exc.message, delay=self.settings.retry_delay) from exc

    async def remove(self, ctx: StepContext) -> None:
        # Build Jobs and their ConfigMaps are owned by the TawaService (and the
        # copied registry Secret too): Kubernetes collects them after it.
        return None

    async def _ensure_built(self, ctx: StepContext, spec: TawaServiceSpec) -> Outcome:
        assert spec.source is not None
        kube = connect(self.settings.kubeconfig)
        image = build_job.image_ref(self.builder.image_registry, spec)
        name = build_job.job_name(spec.name, spec.source.revision)
        short = spec.source.revision[: build_job.SHORT_SHA]

        job = await kube.job(name, ctx.namespace)
        if job is None:
            job = await self._start(ctx, spec, kube, image=image)
            ctx.logger.info(f"Started build Job {ctx.namespace}/{name} for commit {short}.")
        state = build_job.job_state(job)

        if state == "succeeded":
            ctx.facts["image"] = image
            pull_secret = _mounted_name(self.builder.registry_secret, ctx.namespace)
            if pull_secret:
                ctx.facts["image_pull_secrets"] = [pull_secret]
            await self._prune(ctx, kube, keep=name)
            return Outcome(True, "Built", f"Built {image} from commit {short} (Job {name}).")
        if state == "failed":
            lines = await self._failure_log(ctx, kube, job)
            raise kopf.PermanentError(
                f"The build of commit {short} failed (Job {name}); nothing was deployed. "
                f"Last log lines: {lines}"
            )
        # Files the Job mounts: written again when an earlier run stopped half-way.
        await kube.ensure_configmap(self._configmap(spec, job))
        return Outcome(False, "Building", f"Job {name} is building commit {short} into {image}.")

    async def _start(
        self, ctx: StepContext, spec: TawaServiceSpec, kube: BuildKube, *, image: str
    ) -> dict[str, Any]:
        registry_secret = await self._secret(
            ctx, kube, setting=self.builder.registry_secret, copy=COPIED_SECRET
        )
        git_secret = await self._secret(ctx, kube, setting=self.builder.git_secret, copy=GIT_SECRET)
        manifest = build_job.job_manifest(
            spec,
            namespace=ctx.namespace,
            image=image,
            owner_uid=ctx.uid,
            builder_image=self.builder.builder_image,
            git_image=self.builder.git_image,
            deadline=self.builder.build_deadline,
            registry_secret=registry_secret,
            git_secret=git_secret,
        )
        # A precise start time: creation timestamps have whole seconds only.
        manifest["metadata"]["annotations"][STARTED_ANNOTATION] = datetime.now(UTC).isoformat()
        job = await kube.create_job(manifest)
        await kube.ensure_configmap(self._configmap(spec, job))
        return job

    @staticmethod
    def _configmap(spec: TawaServiceSpec, job: dict[str, Any]) -> dict[str, Any]:
        return build_job.configmap_manifest(
            job,
            dockerfile=dockerfiles.dockerfile(spec),
            dockerignore=dockerfiles.dockerignore(spec),
        )

    async def _secret(
        self, ctx: StepContext, kube: BuildKube, *, setting: str, copy: str
    ) -> str | None:
        """The Secret name the Job mounts; a ``NAMESPACE/NAME`` setting is copied here."""
        if not setting:
            return None
        namespace, _, name = setting.rpartition("/")
        if not namespace or namespace == ctx.namespace:
            return name
        found = await kube.secret(name, namespace)
        if found is None:
            raise kopf.TemporaryError(
                f"The Secret {setting} named in the operator's settings does not exist.",
                delay=self.settings.retry_delay,
            )
        await kube.write_secret(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": found.get("type") or "Opaque",
                "metadata": {
                    "name": copy,
                    "namespace": ctx.namespace,
                    "labels": {"app.kubernetes.io/managed-by": "tawa"},
                    "ownerReferences": [build_job.owner_reference(name=ctx.name, uid=ctx.uid)],
                },
                "data": found.get("data") or {},
            }
        )
        return copy

    async def _failure_log(self, ctx: StepContext, kube: BuildKube, job: dict[str, Any]) -> str:
        """The build's last log lines: pod logs, else the annotation, else the condition."""
        count = self.builder.build_log_lines
        name = job["metadata"]["name"]
        text = ""
        pods = await kube.pods(ctx.namespace, selector=f"job-name={name}")
        if pods:
            pod = max(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "")
            for container in ("build", "clone"):
                text = await kube.log_tail(
                    pod["metadata"]["name"], ctx.namespace, container=container, lines=count
                )
                if text.strip():
                    break
        if not text.strip():
            annotations = job["metadata"].get("annotations") or {}
            text = annotations.get(build_job.BUILD_LOG_ANNOTATION, "")
        if not text.strip():
            text = build_job.failure_reason(job) or "(the build left no log)"
        lines = [line.rstrip() for line in text.splitlines() if line.strip()][-count:]
        return redact(" | ".join(lines))[-_LOG_CHARACTERS:]

    async def _prune(self, ctx: StepContext, kube: BuildKube, *, keep: str) -> None:
        """Delete finished build Jobs beyond the newest few; the current one stays."""
        selector = f"{build_job.SERVICE_LABEL}={ctx.name},{build_job.COMPONENT_LABEL}=build"
        jobs = await kube.jobs(ctx.namespace, selector=selector)
        others = [
            j for j in jobs if build_job.job_state(j) != "running" and j["metadata"]["name"] != keep
        ]
        others.sort(key=_started, reverse=True)
        for old in others[self.builder.build_jobs_kept - 1 :]:
            await kube.delete_job(old["metadata"]["name"], ctx.namespace)
            ctx.logger.debug(f"Deleted old build Job {old['metadata']['name']}.")


def _mounted_name(setting: str, namespace: str) -> str | None:
    """The registry Secret's name in the service namespace (see ``_secret``)."""
    if not setting:
        return None
    where, _, name = setting.rpartition("/")
    return name if not where or where == namespace else COPIED_SECRET


def _started(job: dict[str, Any]) -> tuple[str, str]:
    meta = job["metadata"]
    annotations = meta.get("annotations") or {}
    return str(meta.get("creationTimestamp") or ""), annotations.get(STARTED_ANNOTATION, "")
