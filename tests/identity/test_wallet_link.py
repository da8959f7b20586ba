"""Creating an org ensures its wallet in the real wallet service."""

from __future__ import annotations

import httpx
import pytest

from tests.harness.identity_server import identity_server
from tests.harness.wallet_server import wallet_server

pytestmark = pytest.mark.integration


def test_a_new_org_gets_its_wallet(redis_srv):
    with (
        wallet_server() as wallet,
        identity_server(
            redis_srv.url,
            internal_key=wallet.internal_key,
            env={"TAWA_WALLET_URL": wallet.url},
        ) as identity,
    ):
        admin = {"X-Internal-Key": identity.internal_key}
        org = httpx.post(f"{identity.url}/admin/orgs", json={"slug": "acme"}, headers=admin)
        assert org.status_code == 200, org.text
        assert org.json()["walletPending"] is False
        found = httpx.get(f"{wallet.url}/v1/wallets/wallet-acme", headers=wallet.headers)
        assert found.status_code == 200
        assert found.json()["totalBalance"] == 50_000
