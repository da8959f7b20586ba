"""spec.source and spec.build: validation, the catalog's build annotations,
and the build Job's manifest, names and states."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tawa.catalog import CatalogError, parse_catalog
from tawa.operator import build_job
from tawa.resource import TawaServiceSpec

SHA = "0123456789abcdef0123456789abcdef01234567"
BASE = {"name": "web", "owner": "acme", "environment": "sandbox", "framework": "express"}


def spec(**fields) -> TawaServiceSpec:
    return TawaServiceSpec.model_validate({**BASE, **fields})


def test_image_and_source_together_are_refused():
    with pytest.raises(ValidationError, match=r"spec\.image or spec\.source, not both"):
        spec(image="x:1", source={"git": "https://git.example/a/b.git", "revision": SHA})


@pytest.mark.parametrize("revision", [SHA[:12], SHA.upper(), "main", SHA + "0", "g" * 40], ids=str)
def test_the_revision_must_be_a_full_sha(revision):
    with pytest.raises(ValidationError, match="revision"):
        spec(source={"git": "https://git.example/a/b.git", "revision": revision})


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://git.example/acme/web.git", True),
        ("ssh://git@git.example:2222/acme/web.git", True),
        ("git@git.example:acme/web.git", True),
        ("https://bob:token@git.example/acme/web.git", False),
        ("/srv/git/web.git", False),
        ("file:///srv/git/web.git", False),
        ("https://git.example/acme/web.git --upload-pack=evil", False),
    ],
)
def test_git_urls(url, accepted):
    source = {"git": url, "revision": SHA}
    if accepted:
        assert spec(source=source).source.git == url
    else:
        with pytest.raises(ValidationError, match="git"):
            spec(source=source)


@pytest.mark.parametrize(("context", "accepted"), [(".", True), ("services/api", True),
                         (".config/x", True), ("../up", False), ("a/../../b", False),
                         ("/abs", False)])  # fmt: skip
def test_context_dir_stays_inside_the_repository(context, accepted):
    source = {"git": "https://git.example/a/b.git", "revision": SHA, "contextDir": context}
    if accepted:
        assert spec(source=source).source.context_dir == context
    else:
        with pytest.raises(ValidationError, match=r"contextDir|context_dir"):
            spec(source=source)


CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: web
  annotations:
    insureco.io/framework: express
    insureco.io/node-version: "{node}"
    insureco.io/build-command: npm run compile
    insureco.io/start-command: node build/main.js
    insureco.io/output-dir: build
spec:
  type: service
  lifecycle: production
  owner: acme
"""


def test_build_annotations_become_spec_build():
    (component,) = parse_catalog(CATALOG.format(node="22")).components
    assert component.spec["build"] == {
        "nodeVersion": "22",
        "buildCommand": "npm run compile",
        "startCommand": "node build/main.js",
        "outputDir": "build",
    }


def test_a_bad_build_annotation_is_reported_at_the_annotation():
    with pytest.raises(CatalogError) as caught:
        parse_catalog(CATALOG.format(node="20; rm -rf /"))
    (problem,) = [p for p in caught.value.problems if p.severity.value == "error"]
    assert problem.field == 'metadata.annotations["insureco.io/node-version"]'
    assert "image tag of the node base image" in problem.message
    assert problem.line == 7


def test_job_names_are_deterministic_and_fit_kubernetes_limits():
    assert build_job.job_name("web", SHA) == "web-build-0123456789ab"
    long_name = "a-very-long-service-name-that-keeps-going-and-going"
    made = build_job.job_name(long_name, SHA)
    assert made == build_job.job_name(long_name, SHA)
    assert made != build_job.job_name(long_name + "x", SHA)
    assert len(build_job.configmap_name(made)) <= 63
    assert made.endswith("-build-0123456789ab")


def job_for(**source) -> dict:
    service = spec(source={"git": "https://git.example/a/b.git", "revision": SHA, **source})
    return build_job.job_manifest(
        service, namespace="web-sandbox", image="r.example/acme/web:0123456789ab",
        owner_uid="uid-1", builder_image="moby/buildkit:v0.18.2-rootless",
        git_image="alpine/git:v2.47.2", deadline=600, registry_secret="regcred",
    )  # fmt: skip


def test_the_job_builds_the_context_dir_and_mounts_the_registry_secret():
    job = job_for(contextDir="services/api")
    pod = job["spec"]["template"]["spec"]
    (build,) = pod["containers"]
    assert "--local=context=/workspace/src/services/api" in build["args"]
    assert "--local=dockerfile=/workspace/src/services/api" in build["args"]
    auth = next(v for v in pod["volumes"] if v["name"] == "registry-auth")
    assert auth["secret"] == {
        "secretName": "regcred",
        "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
    }
    assert {"name": "registry-auth", "mountPath": "/home/user/.docker", "readOnly": True} in (
        build["volumeMounts"]
    )
    assert pod["automountServiceAccountToken"] is False
    (clone,) = pod["initContainers"]
    assert not any(m["name"] == "git-auth" for m in clone["volumeMounts"])


def test_git_credentials_are_mounted_into_the_clone_only():
    service = spec(source={"git": "https://git.example/a/b.git", "revision": SHA})
    job = build_job.job_manifest(
        service, namespace="web-sandbox", image="r.example/acme/web:0123456789ab",
        owner_uid="uid-1", builder_image="b", git_image="g", deadline=600,
        registry_secret=None, git_secret="gitcred",
    )  # fmt: skip
    pod = job["spec"]["template"]["spec"]
    (clone,) = pod["initContainers"]
    (build,) = pod["containers"]
    mount = {"name": "git-auth", "mountPath": "/git-auth", "readOnly": True}
    assert mount in clone["volumeMounts"]
    assert all(m["name"] != "git-auth" for m in build["volumeMounts"])
    assert "credential.helper" in clone["command"][-1]
    assert all(v["name"] != "registry-auth" for v in pod["volumes"])
    assert job["spec"]["activeDeadlineSeconds"] == 600
    assert (
        "--local=context=/workspace/src"
        in job_for()["spec"]["template"]["spec"]["containers"][0]["args"]
    )


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ({}, "running"),
        ({"active": 1}, "running"),
        ({"succeeded": 1}, "succeeded"),
        ({"conditions": [{"type": "Complete", "status": "True"}]}, "succeeded"),
        ({"failed": 1}, "failed"),
        ({"conditions": [{"type": "Failed", "status": "True"}]}, "failed"),
        ({"conditions": [{"type": "Failed", "status": "False"}]}, "running"),
    ],
)
def test_job_states(status, state):
    assert build_job.job_state({"status": status}) == state
