"""Gas: exactly one charge per 2xx, to the right org, even across a wallet outage."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import (
    FakeWallet,
    Issuer,
    Process,
    Upstream,
    gateway_env,
    put_service,
    wait_for,
)

pytestmark = pytest.mark.integration

GAS = 3


@pytest.fixture(scope="module")
def gateway(
    registry: Process, upstream: Upstream, issuer: Issuer, wallet: FakeWallet, redis_srv: Any
) -> Iterator[Process]:
    wallet.spendable.update({"acme": 10_000, "globex": 10_000, "ownerco": 10_000, "broke": 0})
    put_service(
        registry,
        "billing",
        owner="ownerco",
        upstream=upstream.url,
        routes=[
            {"path": "/api/paid", "methods": ["GET", "POST"], "auth": "required", "gas": GAS},
            {"path": "/api/public-paid", "methods": ["GET"], "auth": "none", "gas": 2},
        ],
    )
    env = gateway_env(
        registry=registry, issuer=issuer, wallet_url=wallet.url, redis_url=redis_srv.url
    )
    process = Process("gateway", env).start(ready_path="/readyz")
    yield process
    process.stop()


def _charges(wallet: FakeWallet, **match: Any) -> list[dict[str, Any]]:
    with wallet.lock:
        events = list(wallet.ledger.values())
    return [e for e in events if all(e.get(k) == v for k, v in match.items())]


def test_n_requests_make_exactly_n_charges_across_a_wallet_restart(
    gateway: Process, wallet: FakeWallet, issuer: Issuer
) -> None:
    auth = {"Authorization": f"Bearer {issuer.token(sub='gas-user')}"}
    before = len(_charges(wallet, route="/api/paid", org="acme"))
    ok = 0
    with httpx.Client(base_url=gateway.url, headers=auth) as client:
        for phase in ("up", "down", "up again"):
            if phase == "down":
                wallet.stop()
            elif phase == "up again":
                wallet.start()
            for i in range(10):
                assert client.get(f"/api/paid/item/{i}").status_code == 200
                ok += 1
                assert client.get("/api/paid/status/500").status_code == 500
                assert client.get("/api/paid/status/404").status_code == 404
                assert client.get("/api/paid/status/302").status_code == 302

    wait_for(
        lambda: len(_charges(wallet, route="/api/paid", org="acme")) - before >= ok, timeout=15
    )
    charges = _charges(wallet, route="/api/paid", org="acme")[before:]
    assert len(charges) == ok == 30
    assert {c["amount"] for c in charges} == {GAS}
    assert {c["service"] for c in charges} == {"billing"}
    assert len({c["id"] for c in charges}) == ok


@pytest.mark.parametrize(
    ("bill_org", "payer"),
    [("globex", "globex"), ("initech", "acme"), (None, "acme")],
)
def test_the_payer_is_the_bill_org_only_when_the_caller_may_bill_it(
    gateway: Process, wallet: FakeWallet, issuer: Issuer, bill_org: str | None, payer: str
) -> None:
    marker = f"/api/paid/bill-{bill_org}"
    headers = {"Authorization": f"Bearer {issuer.token()}"}
    if bill_org:
        headers["X-Bill-Org"] = bill_org
    assert httpx.get(gateway.url + marker, headers=headers).status_code == 200
    wait_for(lambda: bool(_charges(wallet, org=payer, route="/api/paid")), timeout=5)
    assert not _charges(wallet, org="initech")


def test_an_anonymous_call_is_billed_to_the_service_owner(
    gateway: Process, wallet: FakeWallet
) -> None:
    assert httpx.get(gateway.url + "/api/public-paid").status_code == 200
    wait_for(lambda: bool(_charges(wallet, org="ownerco", route="/api/public-paid")), timeout=5)


def test_a_wallet_known_to_be_empty_gets_a_402(
    gateway: Process, upstream: Upstream, issuer: Issuer
) -> None:
    auth = {"Authorization": f"Bearer {issuer.token(orgSlug='broke', orgs=['broke'])}"}
    # The first call may pass while the balance is looked up (the cache fails open).
    httpx.get(gateway.url + "/api/paid/first", headers=auth)

    def refused() -> bool:
        return httpx.get(gateway.url + "/api/paid/again", headers=auth).status_code == 402

    wait_for(refused, timeout=5, interval=0.1)
    before = len(upstream.seen)
    response = httpx.get(gateway.url + "/api/paid/again", headers=auth)
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_gas"
    assert len(upstream.seen) == before


def test_the_metered_proxy_needs_a_token_and_charges_one_per_2xx(
    gateway: Process, wallet: FakeWallet, upstream: Upstream, issuer: Issuer
) -> None:
    assert httpx.get(gateway.url + "/proxy/billing/anything").status_code == 401

    auth = {"Authorization": f"Bearer {issuer.token(orgSlug='globex', orgs=['globex'])}"}
    response = httpx.post(gateway.url + "/proxy/billing/v1/do?x=1", headers=auth, content=b"{}")
    assert response.status_code == 200
    assert response.json()["path"] == "/v1/do?x=1"
    assert httpx.get(gateway.url + "/proxy/billing/status/503", headers=auth).status_code == 503
    assert httpx.get(gateway.url + "/proxy/nobody/x", headers=auth).status_code == 404

    wait_for(lambda: bool(_charges(wallet, route="/proxy/billing")), timeout=5)
    charges = _charges(wallet, route="/proxy/billing")
    assert [(c["org"], c["amount"]) for c in charges] == [("globex", 1)]


def test_a_full_buffer_drops_the_oldest_and_says_so(
    gateway: Process, registry: Process, issuer: Issuer, redis_srv: Any
) -> None:
    nowhere = FakeWallet()  # never started: the wallet is down throughout
    env = gateway_env(
        registry=registry,
        issuer=issuer,
        wallet_url=nowhere.url,
        redis_url=redis_srv.url,
        TAWA_USAGE_BUFFER_SIZE="5",
        TAWA_USAGE_DRAIN_SECONDS="0",
    )
    small = Process("gateway", env).start(ready_path="/readyz")
    try:
        for _ in range(8):
            assert httpx.get(small.url + "/api/public-paid").status_code == 200

        def settled() -> bool:
            # Read between two shipping attempts, the 8 events are 5 kept and 3 dropped.
            metrics = httpx.get(small.url + "/metrics").text
            return bool(
                re.search(r"^tawa_gateway_usage_dropped_total 3\.0$", metrics, re.M)
                and re.search(r"^tawa_gateway_usage_buffer_size 5\.0$", metrics, re.M)
            )

        wait_for(settled, timeout=5, interval=0.05)
    finally:
        small.stop()
