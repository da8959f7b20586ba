"""The release step against the local API and real Helm: leftovers of a killed
operator (a release stuck ``pending-*``) are recovered, not duplicated.

The stuck state is made the way Helm records it: the newest release Secret
says ``pending-install`` or ``pending-upgrade``, as it does while an install
or upgrade runs and forever after its process is killed.
"""

from __future__ import annotations

import base64
import gzip
import json
import subprocess

import pytest
from kubernetes import client, config

from tawa.operator.settings import OperatorSettings
from tawa.operator.steps.release import ReleaseStep
from tests.operator.fakes import HELM, make_context

pytestmark = pytest.mark.integration


@pytest.fixture
def api(localkube):
    made = config.new_client_from_config(config_file=str(localkube.kubeconfig))
    yield made
    made.close()


@pytest.fixture
def step(localkube, tmp_path) -> ReleaseStep:
    settings = OperatorSettings(
        helm=HELM, helm_home=tmp_path / "helm", kubeconfig=str(localkube.kubeconfig)
    )
    return ReleaseStep(settings)


def strand(api, name: str, namespace: str, revision: int, state: str) -> None:
    """Mark a revision as an operation that never finished."""
    core = client.CoreV1Api(api)
    secret_name = f"sh.helm.release.v1.{name}.v{revision}"
    secret = core.read_namespaced_secret(secret_name, namespace)
    release = json.loads(
        gzip.decompress(base64.b64decode(base64.b64decode(secret.data["release"])))
    )
    release["info"]["status"] = state
    packed = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
    body = {
        "metadata": {"labels": {"status": state}},
        "data": {"release": base64.b64encode(packed.encode()).decode()},
    }
    core.patch_namespaced_secret(secret_name, namespace, body)


def history(localkube, name: str, namespace: str) -> list[tuple[int, str]]:
    out = subprocess.run(
        [HELM, "history", name, "-n", namespace, "-o", "json"],
        env=localkube.env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [(entry["revision"], entry["status"]) for entry in json.loads(out)]


def namespace_for_test(api, name: str) -> str:
    namespace = f"{name}-sandbox"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    return namespace


async def test_a_stranded_first_install_is_redone_once(api, localkube, step) -> None:
    namespace = namespace_for_test(api, "stranded-install")
    ctx = make_context(step.settings, name="stranded-install")
    await step.ensure(ctx)
    strand(api, ctx.name, namespace, 1, "pending-install")

    outcome = await step.ensure(make_context(step.settings, name="stranded-install"))
    assert outcome.ok
    assert history(localkube, ctx.name, namespace) == [(1, "deployed")]


async def test_a_stranded_upgrade_is_rolled_back_then_upgraded(api, localkube, step) -> None:
    namespace = namespace_for_test(api, "stranded-upgrade")
    await step.ensure(make_context(step.settings, name="stranded-upgrade"))
    await step.ensure(make_context(step.settings, name="stranded-upgrade", tier="medium"))
    strand(api, "stranded-upgrade", namespace, 2, "pending-upgrade")

    ctx = make_context(step.settings, name="stranded-upgrade", tier="medium")
    outcome = await step.ensure(ctx)
    assert outcome.changed
    assert ctx.facts["helm_revision"] == 4
    states = history(localkube, "stranded-upgrade", namespace)
    assert states[-1] == (4, "deployed")
    # Helm keeps the stranded revision in its history as it was; one deployed.
    assert [state for _, state in states].count("deployed") == 1


async def test_an_unchanged_release_is_not_upgraded_and_remove_is_idempotent(
    api, localkube, step
) -> None:
    namespace = namespace_for_test(api, "steady")
    await step.ensure(make_context(step.settings, name="steady"))
    again = await step.ensure(make_context(step.settings, name="steady"))
    assert again.changed is False
    assert history(localkube, "steady", namespace) == [(1, "deployed")]

    ctx = make_context(step.settings, name="steady")
    await step.remove(ctx)
    await step.remove(ctx)
    assert client.AppsV1Api(api).list_namespaced_deployment(namespace).items == []
