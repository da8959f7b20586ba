"""``tawa rollback`` and ``tawa logs`` against the local Kubernetes API and Helm."""

from __future__ import annotations

import subprocess

import pytest
from kubernetes import client
from kubernetes.config import kube_config
from typer.testing import CliRunner

from tawa.cli.main import app
from tawa.resource import GROUP, PLURAL, VERSION
from tests.builder.conftest import ROOT, service_body

pytestmark = pytest.mark.integration

NAME, NAMESPACE = "rb", "rb-sandbox"
SHA = "4" * 40


@pytest.fixture(scope="module")
def released(localkube, kube_api):
    """A TawaService (no operator watches it) and two Helm revisions of its release."""
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    body = service_body(NAME, source={"git": "https://git.example/acme/rb.git", "revision": SHA})
    body["metadata"]["namespace"] = NAMESPACE
    client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, body
    )
    helm = str(ROOT / ".tools" / "bin" / "helm")
    for tag in ("1", "2"):
        subprocess.run(
            [helm, "upgrade", NAME, str(ROOT / "charts" / "tawa-service"), "--install",
             "--namespace", NAMESPACE, "--disable-openapi-validation",
             "--set", f"nameOverride={NAME}", "--set", "image.repository=example/rb",
             "--set-string", f"image.tag={tag}"],
            env=localkube.env, check=True, capture_output=True,
        )  # fmt: skip
    return kube_api


@pytest.fixture
def tawa(localkube, monkeypatch):
    # The client reads KUBECONFIG when it is imported, before the runner could set it.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(localkube.kubeconfig))

    def run(*arguments):
        return CliRunner().invoke(app, [*arguments, "--namespace", NAMESPACE])

    return run


def spec(api) -> dict:
    found = client.CustomObjectsApi(api).get_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, NAME
    )
    return found["spec"]


def test_rollback_refuses_a_revision_that_is_not_kept(released, tawa):
    result = tawa("rollback", NAME, "--to", "7")
    assert result.exit_code == 2
    assert "Revision 7 is not in the release's history (kept: 1, 2)" in result.output
    assert "source" in spec(released)


def test_rollback_sets_the_previous_revisions_image(released, tawa):
    result = tawa("rollback", NAME)
    assert result.exit_code == 0, result.output
    assert "back to revision 1 (example/rb:1)" in result.output
    now = spec(released)
    assert now["image"] == "example/rb:1"
    assert "source" not in now

    again = tawa("rollback", NAME, "--to", "1")
    assert again.exit_code == 0
    assert "already set to example/rb:1" in again.output


def test_logs_without_pods_say_so(released, tawa):
    result = tawa("logs", NAME)
    assert result.exit_code == 1
    assert "No pods of rb in namespace rb-sandbox" in result.output


def test_build_logs_fall_back_to_the_recorded_lines(released, tawa):
    assert tawa("logs", NAME, "--build").exit_code == 1  # no build yet
    batch = client.BatchV1Api(released)
    job = batch.create_namespaced_job(
        NAMESPACE,
        {
            "metadata": {
                "name": f"rb-build-{SHA[:12]}",
                "labels": {
                    "tawa.insureco.io/service": NAME,
                    "app.kubernetes.io/component": "build",
                },
                "annotations": {"tawa.insureco.io/build-log": "#1 clone\n#2 npm ci\nERROR: boom"},
            },
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "b", "image": "x"}]}
                }
            },
        },
    )
    batch.patch_namespaced_job_status(job.metadata.name, NAMESPACE, {"status": {"failed": 1}})
    result = tawa("logs", NAME, "--build", "--tail", "2")
    assert result.exit_code == 0, result.output
    assert f"Build Job rb-build-{SHA[:12]}: failed." in result.output
    assert "#2 npm ci\nERROR: boom" in result.output
    assert "#1 clone" not in result.output
