"""The deploy gate, hourly hosting charges and the CLI, against a running wallet."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import pytest
from typer.testing import CliRunner

from tawa.cli.main import app as cli
from tawa.cli.wallet import since_moment
from tawa.clients.wallet import WalletClient
from tawa.operator.hosting import charge_hour, charge_service, hosting_key
from tawa.operator.settings import OperatorSettings
from tawa.operator.step import StepContext
from tawa.operator.steps.gate import DeployGate
from tawa.resource import TawaServiceSpec
from tests.harness.redis_server import free_port
from tests.harness.wallet_server import WalletServer

pytestmark = pytest.mark.integration
log = logging.getLogger("test.wallet")


def settings_for(srv: WalletServer, **overrides: Any) -> OperatorSettings:
    return OperatorSettings(wallet_url=srv.url, internal_key=srv.internal_key, **overrides)


def context(org: str, *, name: str = "quotes", tier: str = "nano", **extra: Any) -> StepContext:
    spec = TawaServiceSpec(
        name=name, owner=org, environment="sandbox", framework="fastapi", tier=tier
    )
    return StepContext(
        name=name,
        namespace=f"{name}-sandbox",
        environment="sandbox",
        spec=spec,
        uid="uid-1",
        generation=extra.pop("generation", 1),
        settings=None,
        logger=log,
        **extra,
    )


async def tawa(srv: WalletServer, *args: str) -> str:
    """Run the CLI in a thread: it starts its own event loop."""
    env = {"TAWA_WALLET_URL": srv.url, "TAWA_INTERNAL_KEY": srv.internal_key}
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def wallet_of(srv: WalletServer) -> WalletClient:
    return WalletClient(srv.url, internal_key=srv.internal_key)


async def test_a_short_reserve_blocks_the_deploy_until_tokens_are_bought(
    wallet_srv: WalletServer, org: str
) -> None:
    gate = DeployGate(settings_for(wallet_srv))
    with pytest.raises(kopf.TemporaryError) as refused:
        await gate.ensure(context(org, tier="xlarge"))
    # xlarge: 83 gas/h x 730 h x 3 months = 181,770; the org holds its 50,000 intro tokens.
    message = str(refused.value)
    assert refused.value.delay == 60
    assert "131,770 tokens are missing" in message
    assert f"tawa wallet buy 131770 --org {org}" in message

    assert "Recorded 131,770 purchased tokens" in await tawa(
        wallet_srv, "wallet", "buy", "131770", "--org", org
    )
    outcome = await gate.ensure(context(org, tier="xlarge"))
    assert (outcome.ok, outcome.reason) == (True, "ReserveCovered")
    assert "181,770" in outcome.message


async def test_an_org_without_a_wallet_gets_one_at_its_first_deploy(
    wallet_srv: WalletServer, org: str
) -> None:
    outcome = await DeployGate(settings_for(wallet_srv)).ensure(context(org))
    assert outcome.reason == "ReserveCovered"


async def test_platform_services_skip_the_gate(wallet_srv: WalletServer, org: str) -> None:
    outcome = await DeployGate(settings_for(wallet_srv)).ensure(
        context(org, name="koko", tier="xlarge")
    )
    assert (outcome.ok, outcome.reason) == (True, "Skipped")


async def test_an_unreachable_wallet_lets_the_deploy_through_and_says_so(org: str) -> None:
    settings = OperatorSettings(wallet_url=f"http://127.0.0.1:{free_port()}", internal_key="k")
    outcome = await DeployGate(settings).ensure(context(org, tier="xlarge"))
    assert (outcome.ok, outcome.reason) == (True, "WalletUnreachable")
    assert "fails open" in outcome.message


async def test_an_outage_is_warned_about_once_not_on_every_drift_tick(
    org: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = OperatorSettings(wallet_url=f"http://127.0.0.1:{free_port()}", internal_key="k")
    with caplog.at_level(logging.WARNING, logger=log.name):
        await DeployGate(settings).ensure(context(org))
    assert len(caplog.records) == 1
    let_in = {
        "type": "GateChecked",
        "status": "True",
        "reason": "WalletUnreachable",
        "message": "not checked",
        "observedGeneration": 1,
    }
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=log.name):
        outcome = await DeployGate(settings).ensure(context(org, status={"conditions": [let_in]}))
    assert outcome.reason == "WalletUnreachable"
    assert caplog.records == []


async def test_an_admitted_generation_is_not_checked_again(org: str) -> None:
    settings = OperatorSettings(wallet_url=f"http://127.0.0.1:{free_port()}", internal_key="k")
    admitted = {
        "type": "GateChecked",
        "status": "True",
        "reason": "ReserveCovered",
        "message": "covered",
        "observedGeneration": 3,
    }
    ctx = context(org, generation=3, status={"conditions": [admitted]})
    outcome = await DeployGate(settings).ensure(ctx)
    assert (outcome.reason, outcome.message) == ("ReserveCovered", "covered")
    # A new generation is checked again (here: the wallet is down, so it fails open).
    ctx = context(org, generation=4, status={"conditions": [admitted]})
    assert (await DeployGate(settings).ensure(ctx)).reason == "WalletUnreachable"


async def test_a_service_let_in_while_the_wallet_was_down_is_told_what_is_missing(
    wallet_srv: WalletServer, org: str
) -> None:
    let_in = {
        "type": "GateChecked",
        "status": "True",
        "reason": "WalletUnreachable",
        "message": "not checked",
        "observedGeneration": 2,
    }
    ctx = context(org, tier="xlarge", generation=2, status={"conditions": [let_in]})
    outcome = await DeployGate(settings_for(wallet_srv)).ensure(ctx)
    assert (outcome.ok, outcome.reason) == (True, "ReserveShort")
    assert f"tawa wallet buy 131770 --org {org}" in outcome.message


async def test_hosting_is_charged_once_per_hour_however_often_the_timer_ticks(
    wallet_srv: WalletServer, org: str
) -> None:
    start = datetime(2026, 3, 1, 9, 5, tzinfo=UTC)
    async with wallet_of(wallet_srv) as wallet:
        await wallet.ensure_wallet(org)
        outcomes = []
        for hour in range(3):
            for minute in (0, 10, 20, 50):
                moment = start + timedelta(hours=hour, minutes=minute)
                # Two operator replicas tick at the same moment.
                outcomes += await asyncio.gather(
                    *(
                        charge_hour(
                            wallet,
                            org=org,
                            service="quotes",
                            environment="sandbox",
                            tier="small",
                            clock=lambda m=moment: m,
                        )
                        for _ in range(2)
                    )
                )
        assert [o.outcome for o in outcomes].count("charged") == 3
        assert {o.outcome for o in outcomes} == {"charged", "already-charged"}
        entries = (await wallet.ledger(f"wallet-{org}", kind="hosting")).entries
        assert sorted(e.idempotency_key for e in entries) == [
            hosting_key(org, "quotes", "sandbox", start + timedelta(hours=h)) for h in range(3)
        ]
        assert entries[0].idempotency_key.endswith(":2026030111")
        assert (await wallet.wallet(f"wallet-{org}")).balance("intro") == 50_000 - 3 * 10

    spent = await tawa(wallet_srv, "gas", "--org", org, "--since", "2026-03-01")
    assert "quotes" in spent
    assert "30" in spent


@pytest.mark.parametrize(
    ("meta", "spec", "conditions"),
    [
        ({}, {}, []),
        (
            {"deletionTimestamp": "2026-03-01T00:00:00Z"},
            {},
            [{"type": "Released", "status": "True"}],
        ),
        ({}, {"replicas": 0}, [{"type": "Released", "status": "True"}]),
        ({"name": "koko"}, {}, [{"type": "Released", "status": "True"}]),
    ],
    ids=["not-released", "deleting", "scaled-to-zero", "platform-service"],
)
async def test_services_that_do_not_run_are_not_charged(
    meta: dict[str, Any], spec: dict[str, Any], conditions: list[dict[str, Any]]
) -> None:
    body = {
        "metadata": {"name": "quotes"} | meta,
        "spec": {"owner": "acme", "environment": "sandbox", "tier": "nano"} | spec,
        "status": {"conditions": conditions},
    }

    def no_wallet() -> WalletClient:
        raise AssertionError("the wallet must not be called")

    settings = OperatorSettings(internal_key="k")
    assert await charge_service(body, settings=settings, logger=log, wallet=no_wallet) is None


async def test_a_released_service_is_charged_by_the_timer_body(
    wallet_srv: WalletServer, org: str
) -> None:
    body = {
        "metadata": {"name": "quotes"},
        "spec": {"owner": org, "environment": "prod", "tier": "medium"},
        "status": {"conditions": [{"type": "Released", "status": "True"}]},
    }
    async with wallet_of(wallet_srv) as wallet:
        await wallet.ensure_wallet(org)
    charged = await charge_service(body, settings=settings_for(wallet_srv), logger=log)
    assert charged is not None
    assert (charged.outcome, charged.amount) == ("charged", 23)
    view = await tawa(wallet_srv, "wallet", "--org", org)
    assert "49,977" in view
    assert "hosting" in view


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", datetime(2026, 3, 9, 12, tzinfo=UTC)),
        ("7d", datetime(2026, 3, 3, 12, tzinfo=UTC)),
        ("2w", datetime(2026, 2, 24, 12, tzinfo=UTC)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_since_takes_durations_and_dates(text: str, expected: datetime) -> None:
    assert since_moment(text, now=datetime(2026, 3, 10, 12, tzinfo=UTC)) == expected
