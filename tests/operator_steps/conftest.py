"""Fixtures for the database and DNS steps: contexts, settings and fakes of the
outside world (Cloudflare, the Secret store, MongoDB's command boundary)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from tawa.operator.provisioning_settings import ProvisioningSettings
from tawa.operator.step import StepContext
from tawa.resource import TawaServiceSpec, namespace_for
from tests.harness.cloudflare_fake import FakeCloudflare, cloudflare_fake
from tests.operator_steps.recording_mongo import RecordingMongo

__all__ = ["FakeSecrets", "RecordingMongo", "make_ctx", "make_spec"]


def make_spec(name: str = "my-api", environment: str = "prod", **fields: Any) -> TawaServiceSpec:
    return TawaServiceSpec.model_validate(
        {"name": name, "owner": "acme", "environment": environment, "framework": "fastapi",
         **fields}
    )  # fmt: skip


def make_ctx(spec: TawaServiceSpec, settings: Any = None, **fields: Any) -> StepContext:
    return StepContext(
        name=spec.name,
        namespace=namespace_for(spec.name, spec.environment),
        environment=spec.environment.value,
        spec=spec,
        uid="uid-" + spec.name,
        generation=1,
        settings=settings,
        logger=logging.getLogger("tests.operator_steps"),
        **fields,
    )


@pytest.fixture
def cloudflare() -> Iterator[FakeCloudflare]:
    with cloudflare_fake() as fake:
        yield fake


@pytest.fixture
def dns_settings(cloudflare: FakeCloudflare) -> ProvisioningSettings:
    return ProvisioningSettings(
        cloudflare_api_token=SecretStr(cloudflare.token),
        cloudflare_base_url=cloudflare.base_url,
        cloudflare_zone="tawa.insureco.io",
        ingress_target="ingress.tawa.insureco.io",
        dns_proxied=True,
    )


class FakeSecrets:
    """The Secret-writing boundary, in memory: what the step wrote, and how often."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Any] = {}
        self.writes: list[tuple[str, str]] = []
        self.deletes: list[tuple[str, str]] = []

    async def read(self, namespace, name):
        from tawa.operator.kube_secrets import StoredSecret

        found = self.items.get((namespace, name))
        if found is None:
            return None
        return StoredSecret(dict(found.data), dict(found.annotations))

    async def write(self, namespace, name, secret, *, owner):
        self.writes.append((namespace, name))
        self.items[(namespace, name)] = secret

    async def delete(self, namespace, name):
        if self.items.pop((namespace, name), None) is not None:
            self.deletes.append((namespace, name))

    def data(self, namespace, name) -> dict[str, str]:
        return self.items[(namespace, name)].data
