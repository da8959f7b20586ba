"""The build step called directly against the local Kubernetes API: the
registry Secret copied into the service namespace, old Jobs pruned, and the
refusals that need no Job."""

from __future__ import annotations

import logging

import kopf
import pytest
from kubernetes import client

from tawa.operator.builder_settings import BuilderSettings
from tawa.operator.settings import OperatorSettings
from tawa.operator.step import StepContext
from tawa.operator.steps.build import COPIED_SECRET, GIT_SECRET, BuildStep
from tawa.operator.steps.release import desired_values
from tawa.resource import TawaServiceSpec

pytestmark = pytest.mark.integration

NAMESPACE = "direct-sandbox"


@pytest.fixture(scope="module")
def core(kube_api):
    api = client.CoreV1Api(kube_api)
    for name in (NAMESPACE, "tawa-system"):
        api.create_namespace({"metadata": {"name": name}})
    api.create_namespaced_secret(
        "tawa-system",
        {
            "metadata": {"name": "regcred"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": "eyJhdXRocyI6e319"},
        },
    )
    api.create_namespaced_secret(
        "tawa-system",
        {"metadata": {"name": "gitcred"}, "data": {".git-credentials": "aHR0cHM6Ly94"}},
    )
    return api


def step_for(localkube, **builder) -> BuildStep:
    settings = OperatorSettings(kubeconfig=str(localkube.kubeconfig), retry_delay=1)
    return BuildStep(settings, BuilderSettings(**builder))


def ctx_for(revision: str, **fields) -> StepContext:
    spec = TawaServiceSpec.model_validate(
        {"name": "direct", "owner": "acme", "environment": "sandbox", "framework": "hono",
         "source": {"git": "https://git.example/acme/direct.git", "revision": revision},
         **fields}
    )  # fmt: skip
    return StepContext(
        name="direct", namespace=NAMESPACE, environment="sandbox", spec=spec,
        uid="uid-direct", generation=1, settings=None, logger=logging.getLogger("test"),
    )  # fmt: skip


async def test_a_prebuilt_image_needs_no_build(localkube):
    spec = TawaServiceSpec.model_validate(
        {"name": "direct", "owner": "acme", "environment": "sandbox", "framework": "hono",
         "image": "example/direct:1"}
    )  # fmt: skip
    ctx = ctx_for("a" * 40)
    ctx.spec = spec
    outcome = await step_for(localkube, image_registry="r.test").ensure(ctx)
    assert outcome.ok
    assert outcome.reason == "PrebuiltImage"
    assert "image" not in ctx.facts


async def test_neither_image_nor_source_is_permanent(localkube):
    ctx = ctx_for("a" * 40)
    ctx.spec = ctx.spec.model_copy(update={"source": None})
    with pytest.raises(kopf.PermanentError, match=r"spec\.image or spec\.source"):
        await step_for(localkube, image_registry="r.test").ensure(ctx)


async def test_without_a_registry_nothing_is_built(localkube, core):
    outcome = await step_for(localkube).ensure(ctx_for("b" * 40))
    assert not outcome.ok
    assert "TAWA_IMAGE_REGISTRY" in outcome.message
    batch = client.BatchV1Api(core.api_client)
    assert batch.list_namespaced_job(NAMESPACE).items == []


async def test_registry_secret_is_copied_and_old_jobs_are_pruned(localkube, core):
    step = step_for(
        localkube, image_registry="r.test", registry_secret="tawa-system/regcred",
        git_secret="tawa-system/gitcred", build_jobs_kept=2,
    )  # fmt: skip
    batch = client.BatchV1Api(core.api_client)
    revisions = [str(n) * 40 for n in range(1, 5)]
    for revision in revisions:
        outcome = await step.ensure(ctx_for(revision))
        assert outcome.reason == "Building"
        job = f"direct-build-{revision[:12]}"
        mounted = batch.read_namespaced_job(job, NAMESPACE).spec.template.spec.volumes
        assert any(v.secret and v.secret.secret_name == COPIED_SECRET for v in mounted)
        assert any(v.secret and v.secret.secret_name == GIT_SECRET for v in mounted)
        batch.patch_namespaced_job_status(job, NAMESPACE, {"status": {"succeeded": 1}})
        ctx = ctx_for(revision)
        assert (await step.ensure(ctx)).reason == "Built"
        assert ctx.facts["image"] == f"r.test/acme/direct:{revision[:12]}"
        assert ctx.facts["image_pull_secrets"] == [COPIED_SECRET]

    copied = core.read_namespaced_secret(COPIED_SECRET, NAMESPACE)
    assert copied.data == {".dockerconfigjson": "eyJhdXRocyI6e319"}
    assert copied.type == "kubernetes.io/dockerconfigjson"
    assert copied.metadata.owner_references[0].uid == "uid-direct"
    git = core.read_namespaced_secret(GIT_SECRET, NAMESPACE)
    assert git.data == {".git-credentials": "aHR0cHM6Ly94"}
    kept = sorted(j.metadata.name for j in batch.list_namespaced_job(NAMESPACE).items)
    assert len(kept) == 2
    assert f"direct-build-{revisions[-1][:12]}" in kept


def test_the_release_pulls_a_built_image_with_the_registry_secret():
    ctx = ctx_for("c" * 40)
    settings = OperatorSettings()
    ctx.facts["image"] = "r.test/acme/direct:cccccccccccc"
    assert "imagePullSecrets" not in desired_values(ctx, settings)
    ctx.facts["image_pull_secrets"] = [COPIED_SECRET]
    values = desired_values(ctx, settings)
    assert values["imagePullSecrets"] == [COPIED_SECRET]
    assert values["image"] == {
        "repository": "r.test/acme/direct",
        "tag": "cccccccccccc",
        "digest": "",
    }
