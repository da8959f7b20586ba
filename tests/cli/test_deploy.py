"""``tawa deploy`` and ``tawa status``: usage errors and refusals before any
cluster call, and the status view of a real object on the local API.

The full deploy → Ready path runs in tests/operator/test_acceptance.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from kubernetes import client, config
from typer.testing import CliRunner

from tawa.cli.main import app
from tawa.resource import GROUP, PLURAL, VERSION, crd_manifest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello-fastapi"
runner = CliRunner()


def test_prod_and_another_env_disagree() -> None:
    result = runner.invoke(app, ["deploy", str(EXAMPLE), "--prod", "--env", "uat"])
    assert result.exit_code == 2
    assert "--prod and --env uat disagree" in result.output


def test_a_missing_path_is_a_usage_error(tmp_path) -> None:
    result = runner.invoke(app, ["deploy", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_an_invalid_catalog_is_refused_before_the_cluster(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    (tmp_path / "catalog-info.yaml").write_text("kind: Component\nmetadata: {name: Bad_Name}\n")
    result = runner.invoke(app, ["deploy", str(tmp_path), "--image", "x:1"])
    assert result.exit_code == 1
    assert "catalog-info.yaml" in result.output


def test_no_kubeconfig_is_explained(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.setenv("HOME", str(tmp_path))
    result = runner.invoke(app, ["deploy", str(EXAMPLE), "--image", "x:1"])
    assert result.exit_code == 1
    assert "kubeconfig" in result.output.lower()


def test_status_without_a_name_or_a_catalog_says_what_to_give(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 2
    assert "Give a service NAME" in result.output


@pytest.mark.integration
def test_status_shows_phase_url_revision_and_conditions(localkube, monkeypatch, tmp_path) -> None:
    api = config.new_client_from_config(config_file=str(localkube.kubeconfig))
    try:
        client.ApiextensionsV1Api(api).create_custom_resource_definition(crd_manifest())
    except client.ApiException as exc:
        if exc.status != 409:  # another suite registered it first
            raise
    client.CoreV1Api(api).create_namespace({"metadata": {"name": "shown-uat"}})
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TawaService",
        "metadata": {"name": "shown", "namespace": "shown-uat"},
        "spec": {"name": "shown", "owner": "acme", "environment": "uat", "framework": "express"},
    }
    objects = client.CustomObjectsApi(api)
    objects.create_namespaced_custom_object(GROUP, VERSION, "shown-uat", PLURAL, body)
    status = {
        "phase": "Provisioning", "url": "https://shown.uat.tawa.insureco.io", "helmRevision": 3,
        "observedGeneration": 1,
        "conditions": [
            {"type": "Released", "status": "True", "reason": "Released", "message": "At 3."},
            {"type": "Healthy", "status": "False", "reason": "Waiting", "message": "0/1 ready."},
        ],
    }  # fmt: skip
    objects.patch_namespaced_custom_object_status(
        GROUP, VERSION, "shown-uat", PLURAL, "shown", {"status": status}
    )
    monkeypatch.setenv("KUBECONFIG", str(localkube.kubeconfig))
    shutil.copytree(EXAMPLE, tmp_path / "here")
    monkeypatch.chdir(tmp_path / "here")

    result = runner.invoke(app, ["status", "shown", "--env", "uat"])
    assert result.exit_code == 0, result.output
    for words in ("phase Provisioning", "helm revision 3", "https://shown.uat", "0/1 ready."):
        assert words in result.output
    missing = runner.invoke(app, ["status"])  # the catalog here names hello-fastapi
    assert missing.exit_code == 1
    assert "No TawaService hello-fastapi in namespace hello-fastapi-sandbox" in missing.output
    objects.delete_namespaced_custom_object(GROUP, VERSION, "shown-uat", PLURAL, "shown")


@pytest.mark.integration
def test_deploy_without_an_operator_says_so_and_fails_on_timeout(
    localkube, monkeypatch, tmp_path
) -> None:
    from tawa.cli import deploy

    api = config.new_client_from_config(config_file=str(localkube.kubeconfig))
    try:
        client.ApiextensionsV1Api(api).create_custom_resource_definition(crd_manifest())
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    monkeypatch.setattr(deploy, "_SILENCE_SECONDS", 0.5)
    monkeypatch.setenv("KUBECONFIG", str(localkube.kubeconfig))
    folder = tmp_path / "lonely"
    shutil.copytree(EXAMPLE, folder)
    catalog = folder / "catalog-info.yaml"
    catalog.write_text(catalog.read_text().replace("name: hello-fastapi", "name: lonely"))

    result = runner.invoke(app, ["deploy", str(folder), "--image", "x:1", "--timeout", "2"])
    assert result.exit_code == 1
    assert "Applied TawaService lonely-sandbox/lonely" in result.output
    assert "is `python -m tawa.operator` running" in result.output
    assert "not Ready after 2s" in result.output
    stored = client.CustomObjectsApi(api).get_namespaced_custom_object(
        GROUP, VERSION, "lonely-sandbox", PLURAL, "lonely"
    )
    assert stored["metadata"]["managedFields"][0]["manager"] == "tawa"
    # No operator will ever run for it; leave nothing for other suites' operators.
    client.CustomObjectsApi(api).delete_namespaced_custom_object(
        GROUP, VERSION, "lonely-sandbox", PLURAL, "lonely"
    )
