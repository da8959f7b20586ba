"""The kernel's typed registry client against the running registry."""

from __future__ import annotations

import httpx
import pytest

from tawa.clients._base import segment
from tawa.clients.registry import (
    HistoryGone,
    NotFound,
    RegistryClient,
    RegistryRejected,
    RegistryUnavailable,
    Route,
    RouteConflict,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(registry):
    async with RegistryClient(registry.url, internal_key=registry.internal_key) as client:
        yield client


async def test_services_and_the_route_table(client, unique) -> None:
    name = unique("typed")
    route = Route(path=f"/api/{name}", methods=["GET"], auth="none", gas=1)
    record = await client.upsert_service(
        "sandbox", name, owner="acme", upstream="http://x:1", routes=[route]
    )
    assert (record.changed, record.routes[0].methods) == (True, ["GET"])
    assert (await client.get_service("sandbox", name)).version == record.version
    assert name in [s.name for s in await client.list_services(environment="sandbox")]

    table = await client.route_table(environment="sandbox")
    assert table.version >= record.version
    assert [r.gas for r in table.routes if r.service == name] == [1]

    changes = await client.route_changes(record.version - 1)
    assert changes.changes[0].service == name
    assert changes.changes[0].routes[0].path == f"/api/{name}"

    assert await client.delete_service("sandbox", name) is True
    assert await client.delete_service("sandbox", name) is False
    assert await client.get_service("sandbox", name) is None


async def test_errors_are_typed(client, unique) -> None:
    first, second = unique("typed"), unique("typed")
    route = Route(path=f"/api/{first}")
    await client.upsert_service(
        "sandbox", first, owner="acme", upstream="http://x:1", routes=[route]
    )
    with pytest.raises(RouteConflict) as caught:
        await client.upsert_service(
            "sandbox", second, owner="acme", upstream="http://x:1", routes=[route]
        )
    assert caught.value.service == first
    assert caught.value.code == "route_conflict"

    with pytest.raises(HistoryGone):
        await client.route_changes(10**9)
    with pytest.raises(NotFound):
        await client.approve_grant("sandbox.nobody.none.mongodb")
    with pytest.raises(RegistryRejected) as bad:
        await client.upsert_service("sandbox", second, owner="Bad Org", upstream="x", routes=[])
    assert bad.value.status == 422


async def test_config_flags_and_domains(client, unique) -> None:
    name = unique("typed")
    await client.set_config("sandbox", name, {"A": "1", "B": "2"})
    assert await client.unset_config("sandbox", name, "A") is True
    assert await client.unset_config("sandbox", name, "A") is False
    assert await client.get_config("sandbox", name) == {"B": "2"}

    await client.put_flag(name, enabled=False, orgs={"acme": True})
    assert await client.evaluate_flag(name, org="acme") is True
    assert await client.evaluate_flag(name, org="other", subject="u") is False

    bound = await client.bind_domain(f"{name}.example.net", service=name, environment="prod")
    assert [d.domain for d in await client.list_domains(service=name)] == [bound.domain]
    assert await client.unbind_domain(bound.domain) is True


async def test_an_unreachable_or_failing_registry_is_unavailable() -> None:
    async with RegistryClient("http://127.0.0.1:9", internal_key="k") as down:
        with pytest.raises(RegistryUnavailable, match="could not be reached"):
            await down.route_table()

    failing = httpx.MockTransport(lambda request: httpx.Response(503, text="busy"))
    async with RegistryClient("http://registry", internal_key="k", transport=failing) as busy:
        with pytest.raises(RegistryUnavailable, match="503"):
            await busy.get_service("sandbox", "x")


@pytest.mark.parametrize("key", ["../victim", "..", "x?y", "a#b", "a/b"])
async def test_an_id_never_reaches_another_resource(client, unique, key) -> None:
    # `tawa config unset ../victim` resolved to DELETE /v1/config/sandbox/victim
    # and removed every config value of another service.
    victim = unique("victim")
    await client.set_config("sandbox", victim, {"A": "1"})

    try:
        removed = await client.unset_config(
            "sandbox", unique("typed"), key.replace("victim", victim)
        )
    except RegistryRejected:  # 422: the registry names the bad key
        removed = False

    assert removed is False
    assert await client.get_config("sandbox", victim) == {"A": "1"}


@pytest.mark.parametrize(
    ("value", "sent"),
    [("../x", "..%2Fx"), ("..", "%2E%2E"), (".", "%2E"), ("x?y#z", "x%3Fy%23z"), ("ok-1", "ok-1")],
)
def test_segments_are_encoded_whole(value, sent) -> None:
    assert segment(value) == sent
