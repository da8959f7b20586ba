"""The steps' registry reads against the real registry process."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tawa.clients.registry import RegistryClient
from tawa.operator.provisioning_settings import ProvisioningSettings
from tawa.operator.registry_reads import (
    Grant,
    RegistryUnavailable,
    approved_grants,
    bound_domains,
)
from tests.harness.redis_server import free_port
from tests.harness.registry_server import registry_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registry(redis_srv):
    with registry_server(redis_url=redis_srv.url) as server:
        yield server


async def test_domains_and_approved_grants_are_read(registry):
    settings = ProvisioningSettings(
        registry_url=registry.url, internal_key=SecretStr(registry.internal_key)
    )
    async with RegistryClient(registry.url, internal_key=registry.internal_key) as client:
        scopes = [{"resource": "mongodb", "database": "shared-data",
                   "allowedConsumers": [{"service": "shop", "access": "readOnly"}]}]  # fmt: skip
        for name in ("catalog", "shop"):
            await client.upsert_service(
                "prod", name, owner="acme", upstream=f"http://{name}:3000", routes=[],
                metadata={"scopes": scopes} if name == "catalog" else {},
            )  # fmt: skip
        await client.bind_domain("shop.example.com", service="shop", environment="prod")
        await client.request_grant(
            environment="prod", owner="catalog", consumer="shop", resource="mongodb",
            access="readOnly",
        )  # fmt: skip

    domains = await bound_domains(settings, service="shop", environment="prod")
    grants = await approved_grants(settings, consumer="shop", environment="prod")

    assert domains == ["shop.example.com"]
    assert grants == [Grant("catalog", "mongodb", "shared-data", "readOnly")]
    assert await approved_grants(settings, consumer="shop", environment="sandbox") == []


async def test_an_unreachable_registry_is_reported():
    settings = ProvisioningSettings(registry_url=f"http://127.0.0.1:{free_port()}")

    with pytest.raises(RegistryUnavailable):
        await approved_grants(settings, consumer="shop", environment="prod")
