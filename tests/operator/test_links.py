"""The links step: PORT, platform variables, config and ``{SERVICE}_URL``."""

from __future__ import annotations

import kopf
import pytest
from pydantic import ValidationError

from tawa.operator.steps.links import LinksStep
from tests.operator.fakes import make_context


@pytest.mark.parametrize(
    ("links", "variable", "url"),
    [
        (
            {"internalDependencies": [{"service": "septor", "port": 8473}]},
            "SEPTOR_URL",
            "http://septor.septor-sandbox.svc.cluster.local:8473",
        ),
        (
            {"internalDependencies": [{"service": "iec-wallet"}]},
            "IEC_WALLET_URL",
            "http://iec-wallet.iec-wallet-sandbox.svc.cluster.local:3000",
        ),
        (
            {"internalDependencies": [{"service": "docman", "transport": "janus"}]},
            "DOCMAN_URL",
            "http://gw.local:3000/proxy/docman",
        ),
        (
            {"dependencies": [{"service": "raterspot", "scopes": ["raterspot:rate"]}]},
            "RATERSPOT_URL",
            "http://raterspot.raterspot-sandbox.svc.cluster.local:3000",
        ),
        (
            {
                "dependencies": [
                    {"service": "relay", "transport": "janus", "scopes": ["relay:send"]}
                ]
            },
            "RELAY_URL",
            "http://gw.local:3000/proxy/relay",
        ),
    ],
)
async def test_dependency_urls_follow_the_transport(settings, links, variable, url) -> None:
    settings.gateway_url = "http://gw.local:3000/"
    ctx = make_context(settings, **links)
    await LinksStep(settings).ensure(ctx)
    assert ctx.env[variable] == url


async def test_a_gateway_dependency_gets_no_url(settings) -> None:
    ctx = make_context(
        settings, dependencies=[{"service": "relay", "transport": "gateway", "scopes": ["a:b"]}]
    )
    await LinksStep(settings).ensure(ctx)
    assert "RELAY_URL" not in ctx.env


async def test_platform_variables_are_always_there_and_win_over_config(settings, caplog) -> None:
    settings.bio_id_url = "https://bio.example"
    ctx = make_context(
        settings, port=8000, environment="prod", config={"PORT": "1", "FEATURE_X": "on"}
    )
    outcome = await LinksStep(settings).ensure(ctx)
    assert outcome.ok
    assert ctx.env["PORT"] == "8000"
    assert ctx.env["FEATURE_X"] == "on"
    assert ctx.env["BIO_ID_URL"] == "https://bio.example"
    assert ctx.env["APP_URL"] == "https://my-api.tawa.insureco.io"
    assert ctx.env["SERVICE_NAME"] == "my-api"
    assert "Config keys PORT are set by the platform" in caplog.text


async def test_values_from_earlier_steps_are_kept(settings) -> None:
    ctx = make_context(settings, config={"MONGO_DB_NAME": "mine"})
    ctx.env["MONGO_DB_NAME"] = "my-api-sandbox"
    await LinksStep(settings).ensure(ctx)
    assert ctx.env["MONGO_DB_NAME"] == "my-api-sandbox"


@pytest.mark.parametrize("key", ["1ABC", "MY-KEY", "has space", ""])
async def test_a_config_key_that_is_no_env_name_is_permanent(settings, key) -> None:
    # The spec model refuses such a key first; the step still guards its input.
    with pytest.raises(ValidationError, match=r"config"):
        make_context(settings, config={key: "x"})
    ctx = make_context(settings)
    ctx.spec.config[key] = "x"
    with pytest.raises(kopf.PermanentError, match=r"spec\.config"):
        await LinksStep(settings).ensure(ctx)
