"""The operator's registration step against the running registry."""

from __future__ import annotations

import logging

import kopf
import pytest
from pydantic import SecretStr

from tawa.operator.settings import OperatorSettings
from tawa.operator.step import StepContext
from tawa.operator.steps.registration import RegistrationStep
from tawa.resource import TawaServiceSpec, namespace_for

pytestmark = pytest.mark.integration


def _settings(url: str, key: str) -> OperatorSettings:
    return OperatorSettings(registry_url=url, internal_key=SecretStr(key), retry_delay=2)


@pytest.fixture
def step(registry) -> RegistrationStep:
    return RegistrationStep(_settings(registry.url, registry.internal_key))


def _ctx(name: str, **spec: object) -> StepContext:
    fields = {"name": name, "owner": "acme", "environment": "sandbox", "framework": "fastapi"}
    parsed = TawaServiceSpec.model_validate({**fields, "port": 8000, **spec})
    return StepContext(
        name=name,
        namespace=namespace_for(name, "sandbox"),
        environment="sandbox",
        spec=parsed,
        uid="uid",
        generation=1,
        settings=None,
        logger=logging.getLogger("tests.registration"),
    )


async def test_registers_routes_health_owner_and_scopes(step, api, unique) -> None:
    name = unique("reg")
    routes = [{"path": f"/api/{name}/items", "methods": ["GET"], "auth": "none", "gas": 3}]
    scopes = [{"resource": "mongodb", "allowedConsumers": [{"service": "reader"}]}]
    ctx = _ctx(name, routes=routes, healthPath="/health", tier="small", scopes=scopes)

    outcome = await step.ensure(ctx)
    assert (outcome.ok, outcome.reason, outcome.changed) == (True, "Registered", True)
    record = api.get(f"/v1/services/sandbox/{name}").json()
    assert record["upstream"] == f"http://{name}.{name}-sandbox.svc.cluster.local:8000"
    assert record["routes"] == [
        {"path": f"/api/{name}/items", "methods": ["GET"], "auth": "none", "gas": 3}
    ]
    assert (record["healthPath"], record["owner"], record["tier"]) == ("/health", "acme", "small")
    assert record["metadata"]["scopes"][0]["allowedConsumers"] == [
        {"service": "reader", "access": "readOnly"}
    ]

    again = await step.ensure(ctx)
    assert again.changed is False
    assert f"version {record['version']}" in again.message


async def test_without_routes_a_catch_all_is_registered(step, api, unique) -> None:
    name = unique("reg")
    await step.ensure(_ctx(name))
    routes = api.get(f"/v1/services/sandbox/{name}").json()["routes"]
    assert [(r["path"], r["auth"], r["gas"], len(r["methods"])) for r in routes] == [
        (f"/api/{name}", "required", 0, 7)
    ]


async def test_a_worker_gets_no_routes(step, api, unique) -> None:
    name = unique("reg")
    await step.ensure(_ctx(name, framework="worker"))
    assert api.get(f"/v1/services/sandbox/{name}").json()["routes"] == []


async def test_an_upstream_found_by_an_earlier_step_wins(step, api, unique) -> None:
    name = unique("reg")
    ctx = _ctx(name)
    ctx.facts["upstream"] = "http://127.0.0.1:18000"
    await step.ensure(ctx)
    assert api.get(f"/v1/services/sandbox/{name}").json()["upstream"] == "http://127.0.0.1:18000"


async def test_a_route_held_by_another_service_is_permanent(step, unique) -> None:
    first, second = unique("reg"), unique("reg")
    path = f"/api/{first}/x"
    await step.ensure(_ctx(first, routes=[{"path": path}]))
    with pytest.raises(kopf.PermanentError, match=f"already routed to service '{first}'"):
        await step.ensure(_ctx(second, routes=[{"path": path, "methods": ["POST"]}]))


async def test_a_route_the_registry_refuses_names_the_spec_field(step, unique) -> None:
    ctx = _ctx(unique("reg"), routes=[{"path": "/api/a/b"}])
    # The model refuses '..' too; a resource stored before that rule still reaches the step.
    ctx.spec.routes[0].path = "/api/a/../b"
    with pytest.raises(kopf.PermanentError, match=r"spec\.routes\[0\]\.path: .*'\.\.' segment"):
        await step.ensure(ctx)


async def test_remove_deregisters_and_tolerates_absence(step, api, unique) -> None:
    name = unique("reg")
    ctx = _ctx(name, routes=[{"path": f"/api/{name}"}])
    await step.ensure(ctx)
    await step.remove(ctx)
    assert api.get(f"/v1/services/sandbox/{name}").status_code == 404
    await step.remove(ctx)


async def test_without_a_registry_the_step_is_skipped(unique) -> None:
    step = RegistrationStep(_settings("", "key"))
    outcome = await step.ensure(_ctx(unique("reg")))
    assert (outcome.ok, outcome.reason) == (True, "Skipped")
    assert "TAWA_REGISTRY_URL" in outcome.message
    await step.remove(_ctx(unique("reg")))


async def test_an_unreachable_registry_is_temporary(unique) -> None:
    step = RegistrationStep(_settings("http://127.0.0.1:9", "key"))
    with pytest.raises(kopf.TemporaryError, match="could not be reached") as caught:
        await step.ensure(_ctx(unique("reg")))
    assert caught.value.delay == 2
    with pytest.raises(kopf.TemporaryError):
        await step.remove(_ctx(unique("reg")))


async def test_a_wrong_internal_key_is_temporary_and_says_which_setting(registry, unique) -> None:
    step = RegistrationStep(_settings(registry.url, "wrong"))
    with pytest.raises(kopf.TemporaryError, match="TAWA_INTERNAL_KEY"):
        await step.ensure(_ctx(unique("reg")))
