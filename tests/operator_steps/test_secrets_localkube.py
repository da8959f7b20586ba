"""The databases step writing real Secrets into the local Kubernetes API."""

from __future__ import annotations

import base64
import uuid

import pytest
from kubernetes import client, config
from pydantic import SecretStr

from tawa.operator.kube_secrets import KubeSecrets
from tawa.operator.provisioning_settings import ProvisioningSettings
from tawa.operator.steps.databases import DatabasesStep
from tests.operator_steps.conftest import RecordingMongo, make_ctx, make_spec

pytestmark = pytest.mark.integration


async def _no_grants(ctx, settings):
    return []


@pytest.fixture
def core(localkube):
    api = config.new_client_from_config(config_file=str(localkube.kubeconfig))
    yield client.CoreV1Api(api), api
    api.close()


async def test_secrets_are_written_once_owned_and_removed(core, redis_srv):
    core_api, api = core
    name = f"ledger-{uuid.uuid4().hex[:6]}"
    spec = make_spec(name, databases=[{"type": "mongodb"}, {"type": "redis"}])
    namespace = f"{name}-prod"
    core_api.create_namespace({"metadata": {"name": namespace}})
    settings = ProvisioningSettings(
        mongodb_admin_uri=SecretStr("mongodb://admin:x@db.internal/admin"),
        redis_admin_url=SecretStr(redis_srv.url),
        redis_host=f"127.0.0.1:{redis_srv.port}",
    )
    step = DatabasesStep(
        settings, secrets=KubeSecrets(api), mongo=RecordingMongo(), grants=_no_grants
    )

    outcome = await step.ensure(make_ctx(spec))
    assert outcome.ok, outcome.message

    mongo = core_api.read_namespaced_secret(f"{name}-db-mongodb", namespace)
    redis = core_api.read_namespaced_secret(f"{name}-db-redis", namespace)
    uri = base64.b64decode(mongo.data["MONGODB_URI"]).decode()
    assert uri.startswith(f"mongodb://{name}-prod:")
    assert base64.b64decode(redis.data["REDIS_KEY_PREFIX"]).decode() == f"{name}-prod:"
    assert mongo.metadata.labels["app.kubernetes.io/managed-by"] == "tawa"
    assert mongo.metadata.owner_references[0].kind == "TawaService"

    again = await step.ensure(make_ctx(spec))
    assert not again.changed
    unchanged = core_api.read_namespaced_secret(f"{name}-db-mongodb", namespace)
    assert unchanged.metadata.resource_version == mongo.metadata.resource_version

    await step.remove(make_ctx(spec))
    names = [s.metadata.name for s in core_api.list_namespaced_secret(namespace).items]
    assert not [n for n in names if n.startswith(f"{name}-db-")]
