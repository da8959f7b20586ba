"""The real operator builds a service from a commit with one Job per commit.

No kubelet runs here, so the test plays the Job controller: it reads the
Job's manifest, then patches the Job's status to succeeded or failed, as a
cluster would after the pod ran.
"""

from __future__ import annotations

import time

import pytest

from tawa import dockerfiles
from tawa.resource import TawaServiceSpec
from tests.builder.conftest import REGISTRY, eventually, namespace, service_body

pytestmark = pytest.mark.integration

SHA_ONE = "1" * 40
SHA_TWO = "2" * 40
GIT = "https://git.example/acme/web.git"


def finish(services, job, *, succeeded: bool, log: str = "") -> None:
    if log:
        services.batch.patch_namespaced_job(
            job.metadata.name, job.metadata.namespace,
            {"metadata": {"annotations": {"tawa.insureco.io/build-log": log}}},
        )  # fmt: skip
    kind = "Complete" if succeeded else "Failed"
    status = {
        "conditions": [{"type": kind, "status": "True", "reason": "BackoffLimitExceeded"}],
        ("succeeded" if succeeded else "failed"): 1,
    }
    services.batch.patch_namespaced_job_status(
        job.metadata.name, job.metadata.namespace, {"status": status}
    )


def test_one_job_per_commit_and_the_release_runs_the_built_image(builder_platform, services):
    _, operator_log = builder_platform
    body = service_body("web", source={"git": GIT, "revision": SHA_ONE})
    services.create(body)

    # The Job exists, Built waits for it, and nothing is released yet.
    (job,) = eventually(lambda: services.jobs("web"), what=f"a build Job ({operator_log})")
    assert job.metadata.name == f"web-build-{SHA_ONE[:12]}"
    eventually(lambda: services.condition("web", "Built").get("reason") == "Building")
    assert services.deployment_image("web") is None

    # The manifest: clone that commit, build with rootless BuildKit, push the SHA tag.
    image = f"{REGISTRY}/acme/web:{SHA_ONE[:12]}"
    pod = job.spec.template.spec
    (clone,) = pod.init_containers
    env = {e.name: e.value for e in clone.env}
    assert env["GIT_URL"] == GIT
    assert env["GIT_REVISION"] == SHA_ONE
    assert "cp /generated/Dockerfile Dockerfile" in clone.command[-1]
    (build,) = pod.containers
    assert build.command == ["buildctl-daemonless.sh"]
    assert f"--output=type=image,name={image},push=true" in build.args
    assert "rootless" in build.image
    assert build.security_context.run_as_user == 1000
    assert job.spec.backoff_limit == 0
    assert pod.restart_policy == "Never"
    assert job.metadata.owner_references[0].kind == "TawaService"
    configmap = services.core.read_namespaced_config_map(
        f"{job.metadata.name}-dockerfile", namespace("web")
    )
    spec = TawaServiceSpec.model_validate(body["spec"])
    assert configmap.data["Dockerfile"] == dockerfiles.dockerfile(spec)
    assert configmap.data[".dockerignore"] == dockerfiles.dockerignore(spec)

    # Several reconciles later there is still exactly one Job for the commit.
    time.sleep(2.5)
    assert len(services.jobs("web")) == 1

    # The build finishes: the release runs the SHA-tagged image.
    finish(services, job, succeeded=True)
    eventually(
        lambda: services.deployment_image("web") == image,
        what=f"a release of {image} ({operator_log})",
    )
    built = eventually(lambda: services.condition("web", "Built").get("status") == "True")
    assert built
    assert image in services.condition("web", "Built")["message"]
    eventually(lambda: services.status("web").get("phase") == "Ready", what="Ready")
    assert len(services.jobs("web")) == 1

    # A new commit is a new Job; the first one is not run again.
    services.patch_spec("web", {"source": {"git": GIT, "revision": SHA_TWO}})
    eventually(lambda: len(services.jobs("web")) == 2, what="a Job for the second commit")
    names = sorted(j.metadata.name for j in services.jobs("web"))
    assert names == [f"web-build-{SHA_ONE[:12]}", f"web-build-{SHA_TWO[:12]}"]


def test_a_failed_build_reports_its_last_log_lines_and_deploys_nothing(builder_platform, services):
    _, operator_log = builder_platform
    sha = "3" * 40
    services.create(service_body("broken", source={"git": GIT, "revision": sha}))
    (job,) = eventually(lambda: services.jobs("broken"), what=f"a build Job ({operator_log})")

    log = "\n".join(f"#{n} step {n}" for n in range(1, 30)) + "\nERROR: npm run build exited 1"
    finish(services, job, succeeded=False, log=log)

    failed = eventually(
        lambda: services.status("broken").get("phase") == "Failed",
        what=f"the Failed phase ({operator_log})",
    )
    assert failed
    built = services.condition("broken", "Built")
    assert built["status"] == "False"
    assert "ERROR: npm run build exited 1" in built["message"]
    assert "#29 step 29" in built["message"]
    assert "#5 step 5" not in built["message"]
    assert sha[:12] in built["message"]
    assert services.condition("broken", "Released") == {}
    assert services.deployment_image("broken") is None
    helm_secrets = services.core.list_namespaced_secret(
        namespace("broken"), label_selector="owner=helm"
    ).items
    assert helm_secrets == []
    time.sleep(1.5)
    assert len(services.jobs("broken")) == 1
