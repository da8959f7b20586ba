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
