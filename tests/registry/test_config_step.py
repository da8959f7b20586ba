"""The operator's config step: registry values become the ``{service}-config``
Secret. The registry runs for real; the Kubernetes Secret API is faked."""

from __future__ import annotations

import logging

import kopf
import pytest
from pydantic import SecretStr

from tawa.operator.kube_secrets import Owner, StoredSecret
from tawa.operator.settings import OperatorSettings
from tawa.operator.step import StepContext
from tawa.operator.steps.config import ConfigStep
from tawa.resource import TawaServiceSpec, namespace_for

pytestmark = pytest.mark.integration


class FakeSecrets:
    """The Kubernetes Secret API at its boundary: a dict per namespace/name."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], StoredSecret] = {}
        self.writes = 0

    async def read(self, namespace: str, name: str) -> StoredSecret | None:
        return self.stored.get((namespace, name))

    async def write(self, namespace: str, name: str, secret: StoredSecret, *, owner: Owner) -> None:
        self.writes += 1
        self.stored[(namespace, name)] = secret

    async def delete(self, namespace: str, name: str) -> None:
        self.stored.pop((namespace, name), None)


def _ctx(name: str) -> StepContext:
    spec = TawaServiceSpec.model_validate(
        {"name": name, "owner": "acme", "environment": "sandbox", "framework": "fastapi"}
    )
    return StepContext(
        name=name,
        namespace=namespace_for(name, "sandbox"),
        environment="sandbox",
        spec=spec,
        uid="uid",
        generation=1,
        settings=None,
        logger=logging.getLogger("tests.config_step"),
    )


def _step(url: str, key: str, secrets: FakeSecrets) -> ConfigStep:
    settings = OperatorSettings(registry_url=url, internal_key=SecretStr(key), retry_delay=2)
    return ConfigStep(settings, secrets=secrets)


async def test_values_become_a_secret_that_follows_changes(registry, api, unique) -> None:
    name, secrets = unique("cfgstep"), FakeSecrets()
    step = _step(registry.url, registry.internal_key, secrets)
    api.put(f"/v1/config/sandbox/{name}", json={"values": {"API_TOKEN": "t0p", "MODE": "a"}})

    ctx = _ctx(name)
    outcome = await step.ensure(ctx)
    stored = secrets.stored[(ctx.namespace, f"{name}-config")]
    assert stored.data == {"API_TOKEN": "t0p", "MODE": "a"}
    assert ctx.secret_refs == [f"{name}-config"]
    assert outcome.changed is True
    assert "t0p" not in outcome.message
    first_checksum = ctx.facts["secret_checksums"][f"{name}-config"]

    again = _ctx(name)
    assert (await step.ensure(again)).changed is False
    assert secrets.writes == 1

    api.put(f"/v1/config/sandbox/{name}/MODE", json={"value": "b"})
    later = _ctx(name)
    await step.ensure(later)
    assert later.facts["secret_checksums"][f"{name}-config"] != first_checksum

    api.delete(f"/v1/config/sandbox/{name}")
    emptied = _ctx(name)
    assert (await step.ensure(emptied)).reason == "NoConfig"
    assert secrets.stored == {}
    assert emptied.secret_refs == []


async def test_an_unreachable_registry_keeps_what_was_delivered(registry, api, unique) -> None:
    name, secrets = unique("cfgstep"), FakeSecrets()
    api.put(f"/v1/config/sandbox/{name}", json={"values": {"A": "1"}})
    await _step(registry.url, registry.internal_key, secrets).ensure(_ctx(name))

    down = _step("http://127.0.0.1:9", "k", secrets)
    ctx = _ctx(name)
    outcome = await down.ensure(ctx)
    assert (outcome.ok, outcome.reason) == (True, "RegistryUnreachable")
    assert ctx.secret_refs == [f"{name}-config"]

    with pytest.raises(kopf.TemporaryError, match="not known yet"):
        await down.ensure(_ctx(unique("cfgstep")))


async def test_a_wrong_key_or_no_registry(registry, unique) -> None:
    with pytest.raises(kopf.TemporaryError, match="TAWA_INTERNAL_KEY"):
        await _step(registry.url, "wrong", FakeSecrets()).ensure(_ctx(unique("cfgstep")))
    outcome = await _step("", "k", FakeSecrets()).ensure(_ctx(unique("cfgstep")))
    assert outcome.reason == "Skipped"


async def test_remove_deletes_the_secret(registry, api, unique) -> None:
    name, secrets = unique("cfgstep"), FakeSecrets()
    api.put(f"/v1/config/sandbox/{name}", json={"values": {"A": "1"}})
    step = _step(registry.url, registry.internal_key, secrets)
    await step.ensure(_ctx(name))
    await step.remove(_ctx(name))
    assert secrets.stored == {}
