"""Tokens from the real identity service pass the gateway; its claims become our headers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import (
    INTERNAL_KEY,
    FakeWallet,
    Process,
    Upstream,
    put_service,
)
from tests.harness.identity_server import IdentityServer, identity_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def identity(redis_srv: Any) -> Iterator[IdentityServer]:
    with identity_server(redis_srv.url, internal_key=INTERNAL_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    registry: Process,
    upstream: Upstream,
    identity: IdentityServer,
    wallet: FakeWallet,
    redis_srv: Any,
) -> Iterator[Process]:
    put_service(
        registry,
        "orders",
        upstream=upstream.url,
        routes=[{"path": "/api/orders", "methods": ["GET"], "auth": "required", "gas": 0}],
    )
    env = {
        "TAWA_REGISTRY_URL": registry.url,
        "TAWA_REDIS_URL": redis_srv.url,
        "TAWA_IDENTITY_URL": identity.url,
        "TAWA_WALLET_URL": wallet.url,
    }
    process = Process("gateway", env).start(ready_path="/readyz")
    yield process
    process.stop()


def _client_token(identity: IdentityServer) -> str:
    admin = {"X-Internal-Key": INTERNAL_KEY}
    httpx.post(
        f"{identity.url}/admin/orgs", json={"slug": "umbrella", "name": "Umbrella"}, headers=admin
    ).raise_for_status()
    created = httpx.put(
        f"{identity.url}/admin/clients/reports-sandbox",
        json={
            "redirectUris": [],
            "scopes": [],
            "grantTypes": ["client_credentials"],
            "org": "umbrella",
            "name": "reports",
        },
        headers=admin,
    )
    created.raise_for_status()
    answer = httpx.post(
        f"{identity.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "reports-sandbox",
            "client_secret": created.json()["clientSecret"],
        },
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def test_a_client_credentials_token_is_forwarded_as_our_identity(
    gateway: Process, identity: IdentityServer
) -> None:
    token = _client_token(identity)
    response = httpx.get(
        gateway.url + "/api/orders/1",
        headers={"Authorization": f"Bearer {token}", "X-Tawa-Org": "someone-else"},
    )
    assert response.status_code == 200
    seen = response.json()["headers"]
    assert seen["x-tawa-client"] == "reports-sandbox"
    assert seen["x-tawa-user"] == "reports-sandbox"
    assert seen["x-tawa-org"] == "umbrella"

    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    refused = httpx.get(
        gateway.url + "/api/orders/1", headers={"Authorization": f"Bearer {tampered}"}
    )
    assert refused.status_code == 401
