"""The Cloudflare fake itself, through the real SDK: what the DNS tests rely on."""

from __future__ import annotations

import pytest
from cloudflare import AsyncCloudflare, BadRequestError, PermissionDeniedError, RateLimitError


@pytest.fixture
async def sdk(cloudflare):
    client = AsyncCloudflare(
        api_token=cloudflare.token, base_url=cloudflare.base_url, max_retries=0
    )
    yield client
    await client.close()


async def test_crud_through_the_sdk(cloudflare, sdk):
    zone = cloudflare.add_zone("example.org")
    created = await sdk.dns.records.create(
        zone_id=zone, name="App.example.org", type="A", content="192.0.2.1", ttl=1
    )
    assert created.name == "app.example.org"

    fetched = await sdk.dns.records.get(created.id, zone_id=zone)
    replaced = await sdk.dns.records.update(
        created.id, zone_id=zone, name="app.example.org", type="A", content="192.0.2.2", ttl=300
    )
    patched = await sdk.dns.records.edit(
        created.id, zone_id=zone, name="app.example.org", type="A", proxied=True, ttl=300
    )
    await sdk.dns.records.delete(created.id, zone_id=zone)

    assert fetched.content == "192.0.2.1"
    assert (replaced.content, replaced.ttl, replaced.proxied) == ("192.0.2.2", 300, False)
    assert (patched.content, patched.proxied) == ("192.0.2.2", True)
    assert cloudflare.records(zone) == []
    assert [c.method for c in cloudflare.writes()] == ["POST", "PUT", "PATCH", "DELETE"]


async def test_filters_conflicts_and_auth(cloudflare, sdk):
    zone = cloudflare.add_zone("example.org")
    cloudflare.add_record(zone, name="a.example.org", type="A", content="192.0.2.1")
    cloudflare.add_record(zone, name="a.example.org", type="TXT", content='"hello"')

    texts = [r async for r in sdk.dns.records.list(zone_id=zone, type="TXT")]
    named = [r async for r in sdk.dns.records.list(zone_id=zone, name={"exact": "a.example.org"})]
    assert [r.content for r in texts] == ['"hello"']
    assert len(named) == 2

    with pytest.raises(BadRequestError):
        await sdk.dns.records.create(
            zone_id=zone, name="a.example.org", type="CNAME", content="x.example.net", ttl=1
        )
    stranger = AsyncCloudflare(api_token="wrong", base_url=cloudflare.base_url, max_retries=0)
    with pytest.raises(PermissionDeniedError):
        await stranger.dns.records.get("nope", zone_id=zone)
    await stranger.close()


async def test_injected_rate_limit_carries_retry_after(cloudflare, sdk):
    cloudflare.add_zone("example.org")
    cloudflare.fail_next(429, retry_after="7")

    with pytest.raises(RateLimitError) as raised:
        await sdk.zones.list(name="example.org")

    assert raised.value.response.headers["retry-after"] == "7"
    assert cloudflare.calls[-1].status == 429
