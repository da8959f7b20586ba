"""Acceptance: N paid requests through the gateway are N entries in the real wallet's ledger.

The wallet is the real service (``python -m tawa.wallet``). With its in-memory
store it is frozen with SIGSTOP for part of the run and thawed with SIGCONT:
batches sent meanwhile time out at the gateway, are kept and resent, and the
wallet later answers both the late originals and the resends, so this also
proves that a resend never charges twice. A kill and restart would lose the
in-memory ledger we count, so that drill runs here only when
``TAWA_TEST_MONGODB_URI`` names a real MongoDB (and always against the
stand-in wallet in ``test_gas.py``).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import (
    INTERNAL_KEY,
    Issuer,
    Process,
    Upstream,
    gateway_env,
    put_service,
    wait_for,
)

pytestmark = pytest.mark.integration

GAS = 2
HEADERS = {"X-Internal-Key": INTERNAL_KEY}


MONGODB_URI = os.environ.get("TAWA_TEST_MONGODB_URI", "")
"""With a real MongoDB the wallet is killed and restarted; in memory it is frozen."""


@pytest.fixture(scope="module")
def real_wallet() -> Iterator[Process]:
    env = {"TAWA_LOG_LEVEL": "WARNING"}
    if MONGODB_URI:
        database = f"tawa_gateway_test_{uuid.uuid4().hex[:8]}"
        env |= {"TAWA_MONGODB_URI": MONGODB_URI, "TAWA_WALLET_DATABASE": database}
    process = Process("wallet", env).start(ready_path="/readyz")
    for org in ("initech", "hooli"):
        httpx.post(
            f"{process.url}/v1/wallets", json={"org": org}, headers=HEADERS
        ).raise_for_status()
    credit = {
        "amount": 100_000,
        "tokenType": "purchased",
        "reason": "gateway tests",
        "idempotencyKey": "gateway-tests-credit",
    }
    httpx.post(
        f"{process.url}/v1/wallets/wallet-initech/credits", json=credit, headers=HEADERS
    ).raise_for_status()
    yield process
    process.stop()
    if MONGODB_URI:
        import pymongo

        with pymongo.MongoClient(MONGODB_URI) as client:
            client.drop_database(env["TAWA_WALLET_DATABASE"])


def _interrupt(wallet: Process) -> None:
    if MONGODB_URI:
        wallet.stop()
    else:
        os.kill(wallet.proc.pid, signal.SIGSTOP)


def _resume(wallet: Process) -> None:
    if MONGODB_URI:
        wallet.start(ready_path="/readyz")
    else:
        os.kill(wallet.proc.pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def gateway(
    registry: Process, upstream: Upstream, issuer: Issuer, real_wallet: Process, redis_srv: Any
) -> Iterator[Process]:
    put_service(
        registry,
        "metered",
        owner="initech",
        upstream=upstream.url,
        routes=[{"path": "/api/metered", "methods": ["GET"], "auth": "required", "gas": GAS}],
    )
    env = gateway_env(
        registry=registry,
        issuer=issuer,
        wallet_url=real_wallet.url,
        redis_url=redis_srv.url,
        TAWA_WALLET_TIMEOUT_SECONDS="0.5",
        TAWA_USAGE_BATCH_SIZE="7",
    )
    process = Process("gateway", env).start(ready_path="/readyz")
    yield process
    process.stop()


def _ledger(wallet: Process, org: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"kind": "transaction", "service": "metered", "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = httpx.get(
            f"{wallet.url}/v1/wallets/wallet-{org}/ledger", params=params, headers=HEADERS
        ).json()
        entries += page["entries"]
        cursor = page.get("nextCursor")
        if not cursor:
            return entries


def test_n_paid_requests_are_n_ledger_entries_across_a_wallet_outage(
    gateway: Process, real_wallet: Process, issuer: Issuer
) -> None:
    token = issuer.token(orgSlug="initech", orgs=[{"orgSlug": "initech", "roles": ["owner"]}])
    ok = 0
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}) as c:
        for phase in ("up", "down", "back"):
            if phase == "down":
                _interrupt(real_wallet)
            try:
                for i in range(10):
                    assert c.get(f"/api/metered/{phase}/{i}").status_code == 200
                    ok += 1
                    assert c.get("/api/metered/status/500").status_code == 500
                    assert c.get("/api/metered/status/404").status_code == 404
                if phase == "down":
                    time.sleep(1.5)  # let batches fail while the wallet is away
            finally:
                if phase == "down":
                    _resume(real_wallet)

    wait_for(lambda: len(_ledger(real_wallet, "initech")) >= ok, timeout=20, interval=0.2)
    time.sleep(1.0)  # any late duplicate would land now
    entries = _ledger(real_wallet, "initech")
    assert len(entries) == ok == 30
    assert {e["amount"] for e in entries} == {GAS}
    assert {e["route"] for e in entries} == {"/api/metered"}
    wallet = httpx.get(f"{real_wallet.url}/v1/wallets/wallet-initech", headers=HEADERS).json()
    assert wallet["apiSpendable"] == 100_000 - ok * GAS


def test_an_org_with_only_intro_tokens_gets_a_402(
    gateway: Process, real_wallet: Process, issuer: Issuer
) -> None:
    # Intro tokens pay hosting only: hooli's wallet cannot pay API gas.
    token = issuer.token(orgSlug="hooli", orgs=[{"orgSlug": "hooli"}])
    auth = {"Authorization": f"Bearer {token}"}
    httpx.get(gateway.url + "/api/metered/first", headers=auth)

    def refused() -> bool:
        return httpx.get(gateway.url + "/api/metered/x", headers=auth).status_code == 402

    wait_for(refused, timeout=5, interval=0.1)
    assert not _ledger(real_wallet, "hooli")
