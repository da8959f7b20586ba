"""The wallet's HTTP surface, in process: validation, auth, pages, reserve, usage.

The typed kernel client is used wherever it covers the call, so the client
and the service are tested against each other.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tawa.clients import wallet as client
from tawa.clients.wallet import UsageEvent, WalletClient
from tawa.tokens import TokenVerifier
from tawa.wallet.app import build_app
from tawa.wallet.auth import Gatekeeper
from tawa.wallet.settings import WalletSettings

KEY = "test-internal-key"
ISSUER = "https://bio.example.test"


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})


@pytest.fixture
def app(store_uri: str, signing_key: RSAKey) -> Any:
    import uuid

    settings = WalletSettings(
        internal_key=KEY, mongodb_uri=store_uri, wallet_database=f"t_{uuid.uuid4().hex[:8]}"
    )
    app = build_app(settings)
    jwks = {"keys": [signing_key.as_dict(private=False)]}
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, json=jwks))
    )
    verifier = TokenVerifier(jwks_url=f"{ISSUER}/jwks", issuer=ISSUER, audience="tawa", http=http)
    app.state.gatekeeper = Gatekeeper(internal_key=KEY, verifier=verifier)
    return app


@pytest.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wallet") as http:
        yield http


@pytest.fixture
async def wallet(app: Any) -> AsyncIterator[WalletClient]:
    transport = httpx.ASGITransport(app=app)
    async with WalletClient("http://wallet", internal_key=KEY, transport=transport) as wallet:
        yield wallet


def token(signing_key: RSAKey, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "tawa", "sub": "BIO-1", "iat": now, "exp": now + 300} | claims
    return jwt.encode({"alg": "RS256", "kid": "k1"}, body, signing_key)


async def test_the_client_and_the_service_agree_on_every_call(wallet: WalletClient) -> None:
    created = await wallet.ensure_wallet("acme", name="Acme Inc")
    assert (created.wallet_id, created.total_balance, created.api_spendable) == (
        "wallet-acme",
        50_000,
        0,
    )
    bought = await wallet.credit(
        "wallet-acme", amount=1_000, token_type="purchased", reason="cli purchase", key="buy-1"
    )
    assert bought.changes == {"purchased": 1_000}
    charged = await wallet.charge(
        "wallet-acme", amount=5, kind="hosting", service="api", environment="prod", key="h-1"
    )
    replayed = await wallet.charge(
        "wallet-acme", amount=5, kind="hosting", service="api", environment="prod", key="h-1"
    )
    assert (replayed.id, replayed.replayed, charged.replayed) == (charged.id, True, False)

    view = await wallet.wallet("wallet-acme")
    assert (view.balance("intro"), view.balance("purchased"), view.api_spendable) == (
        49_995,
        1_000,
        1_000,
    )
    spend = await wallet.spend("wallet-acme")
    assert [(s.service, s.kind, s.amount, s.count) for s in spend] == [("api", "hosting", 5, 1)]
    reserve = await wallet.reserve("wallet-acme", tier="medium")
    assert (reserve.required, reserve.available, reserve.passes, reserve.missing) == (
        50_370,
        50_995,
        True,
        0,
    )
    assert (await wallet.audit("wallet-acme"))["consistent"]


async def test_errors_become_the_clients_exceptions(wallet: WalletClient) -> None:
    await wallet.ensure_wallet("acme")
    with pytest.raises(client.InsufficientFunds):
        await wallet.charge(
            "wallet-acme", amount=1, kind="transaction", service="a", environment="uat", key="t"
        )
    with pytest.raises(client.WalletNotFound):
        await wallet.wallet("wallet-nobody")
    await wallet.charge(
        "wallet-acme", amount=1, kind="hosting", service="a", environment="uat", key="k"
    )
    with pytest.raises(client.DuplicateKeyConflict):
        await wallet.charge(
            "wallet-acme", amount=2, kind="hosting", service="a", environment="uat", key="k"
        )


async def test_an_unreachable_wallet_is_one_exception() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    transport = httpx.MockTransport(refuse)
    async with WalletClient("http://wallet", internal_key=KEY, transport=transport, retries=1) as w:
        with pytest.raises(client.WalletUnreachable):
            await w.reserve("wallet-acme", tier="nano")


@pytest.mark.parametrize("amount", [0, -5, 2.5, 5.0, True, "5", None, 10**12 + 1])
async def test_amounts_must_be_whole_positive_tokens(http: httpx.AsyncClient, amount: Any) -> None:
    await http.post("/v1/wallets", json={"org": "acme"}, headers={"X-Internal-Key": KEY})
    body = {"amount": amount, "kind": "hosting", "service": "api", "environment": "prod"}
    answer = await http.post(
        "/v1/wallets/wallet-acme/charges",
        json=body | {"idempotencyKey": "k"},
        headers={"X-Internal-Key": KEY},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_amount"


async def test_the_ledger_pages_and_filters(wallet: WalletClient) -> None:
    await wallet.ensure_wallet("acme")
    for i in range(7):
        service = "api" if i % 2 else "web"
        await wallet.charge(
            "wallet-acme",
            amount=1,
            kind="hosting",
            service=service,
            environment="prod",
            key=f"h{i}",
        )
    seen, cursor = [], None
    while True:
        page = await wallet.ledger("wallet-acme", limit=3, cursor=cursor)
        seen += [e.idempotency_key for e in page.entries]
        if not (cursor := page.next_cursor):
            break
    assert seen == [f"h{i}" for i in reversed(range(7))] + ["grant:intro"]
    api = await wallet.ledger("wallet-acme", service="api")
    assert {e.idempotency_key for e in api.entries} == {"h1", "h3", "h5"}
    grants = await wallet.ledger("wallet-acme", kind="grant")
    assert [e.amount for e in grants.entries] == [50_000]


async def test_usage_batches_report_each_event(wallet: WalletClient) -> None:
    await wallet.ensure_wallet("acme")
    await wallet.credit("wallet-acme", amount=10, token_type="earned", reason="plugin", key="e")

    def event(id_: str, amount: int = 4, org: str = "acme") -> UsageEvent:
        return UsageEvent(
            id=id_, org=org, service="api", environment="prod", route="/quote", amount=amount
        )

    batch = [event("u1"), event("u1"), event("u2"), event("u3"), event("u4", org="ghost")]
    results = await wallet.usage(batch)
    assert [r.status for r in results] == [
        "charged",
        "duplicate",
        "charged",
        "insufficient_funds",
        "invalid",
    ]
    assert results[0].entry_id == results[1].entry_id
    again = await wallet.usage([event("u2")])
    assert (again[0].status, again[0].entry_id) == ("duplicate", results[2].entry_id)
    assert (await wallet.wallet("wallet-acme")).balance("earned") == 2


async def test_usage_refuses_a_malformed_event_but_not_the_batch(http: httpx.AsyncClient) -> None:
    headers = {"X-Internal-Key": KEY}
    await http.post("/v1/wallets", json={"org": "acme"}, headers=headers)
    events = [{"id": "bad", "amount": 1.5}, {"id": "x", "org": "acme"}]
    answer = await http.post("/v1/usage", json={"events": events}, headers=headers)
    assert [r["status"] for r in answer.json()["results"]] == ["invalid", "invalid"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"X-Internal-Key": "wrong"}, 401), ({"Authorization": "Bearer nope"}, 401)],
)
async def test_callers_must_authenticate(
    http: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    assert (await http.get("/v1/wallets/wallet-acme", headers=headers)).status_code == status


async def test_members_read_their_own_wallet_and_nothing_else(
    http: httpx.AsyncClient, signing_key: RSAKey
) -> None:
    internal = {"X-Internal-Key": KEY}
    for org in ("acme", "other"):
        await http.post("/v1/wallets", json={"org": org}, headers=internal)
    member = {"Authorization": f"Bearer {token(signing_key, orgSlug='acme', orgs=['acme'])}"}

    assert (await http.get("/v1/wallets/wallet-acme", headers=member)).status_code == 200
    assert (await http.get("/v1/wallets/wallet-acme/ledger", headers=member)).status_code == 200
    assert (await http.get("/v1/wallets/wallet-other", headers=member)).status_code == 404
    buy = {"amount": 5, "tokenType": "purchased", "reason": "r", "idempotencyKey": "k"}
    answer = await http.post("/v1/wallets/wallet-acme/credits", json=buy, headers=member)
    assert answer.status_code == 403


async def test_a_member_of_several_orgs_reads_each_of_their_wallets(
    http: httpx.AsyncClient, signing_key: RSAKey
) -> None:
    internal = {"X-Internal-Key": KEY}
    for org in ("acme", "beta"):
        await http.post("/v1/wallets", json={"org": org}, headers=internal)
    # The identity service's passport shape: one entry per membership.
    orgs = [{"orgSlug": "acme", "orgId": "ORG-1"}, {"orgSlug": "beta", "orgId": "ORG-2"}]
    member = {"Authorization": f"Bearer {token(signing_key, orgSlug='acme', orgs=orgs)}"}
    assert (await http.get("/v1/wallets/wallet-beta", headers=member)).status_code == 200


async def test_reserve_rejects_unknown_tiers(http: httpx.AsyncClient) -> None:
    internal = {"X-Internal-Key": KEY}
    await http.post("/v1/wallets", json={"org": "acme"}, headers=internal)
    answer = await http.get("/v1/wallets/wallet-acme/reserve?tier=huge", headers=internal)
    assert answer.status_code == 422
