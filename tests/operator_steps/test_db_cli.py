"""``tawa db rotate`` against the local Kubernetes API, honoured by the databases step."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest
from kubernetes import client, config
from typer.testing import CliRunner

from tawa.cli.main import app
from tawa.operator.provisioning_settings import ProvisioningSettings
from tawa.operator.steps.databases import DatabasesStep
from tawa.resource import GROUP, PLURAL, VERSION, crd_manifest
from tests.operator_steps.conftest import FakeSecrets, RecordingMongo, make_ctx, make_spec

pytestmark = pytest.mark.integration


@pytest.fixture
def objects(localkube, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(localkube.kubeconfig))
    api = config.new_client_from_config(config_file=str(localkube.kubeconfig))
    try:
        client.ApiextensionsV1Api(api).create_custom_resource_definition(crd_manifest())
    except client.ApiException as error:
        if error.status != 409:  # another test installed it already
            raise
    yield client.CustomObjectsApi(api)
    api.close()


async def _no_grants(ctx, settings):
    return []


async def test_rotate_stamps_the_service_and_the_step_rotates(objects):
    name = f"vault-{uuid.uuid4().hex[:6]}"
    namespace = f"{name}-prod"
    client.CoreV1Api(objects.api_client).create_namespace({"metadata": {"name": namespace}})
    spec = make_spec(name, databases=[{"type": "mongodb"}])
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TawaService",
            "metadata": {"name": name}, "spec": spec.model_dump(mode="json", by_alias=True,
                                                                 exclude_none=True)}  # fmt: skip
    objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    secrets, mongo = FakeSecrets(), RecordingMongo()
    settings = ProvisioningSettings(mongodb_admin_uri="mongodb://admin:x@db/admin")
    step = DatabasesStep(settings, secrets=secrets, mongo=mongo, grants=_no_grants)
    await step.ensure(make_ctx(spec))
    before = urlsplit(secrets.data(namespace, f"{name}-db-mongodb")["MONGODB_URI"]).password

    result = CliRunner().invoke(
        app, ["db", "rotate", "--service", name, "--env", "prod", "--type", "mongodb"]
    )

    assert result.exit_code == 0, result.output
    annotations = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)[
        "metadata"
    ]["annotations"]
    assert "tawa.insureco.io/rotate-mongodb" in annotations
    await step.ensure(make_ctx(spec, annotations=annotations))
    after = urlsplit(secrets.data(namespace, f"{name}-db-mongodb")["MONGODB_URI"]).password
    assert after != before
    assert mongo.users[(f"{name}-prod", f"{name}-prod")]["pwd"] == after


def test_rotate_names_a_missing_service(objects):
    result = CliRunner().invoke(app, ["db", "rotate", "--service", "ghost", "--env", "uat"])

    assert result.exit_code == 1
    assert "No TawaService ghost in namespace ghost-uat" in result.output
