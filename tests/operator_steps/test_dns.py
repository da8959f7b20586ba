"""The DNS step against the real ``cloudflare`` SDK and a stateful fake of the v4 API."""

from __future__ import annotations

import kopf
import pytest
from pydantic import SecretStr

from tawa.operator.cloudflare_dns import CloudflareDns
from tawa.operator.provisioning_settings import ProvisioningSettings
from tawa.operator.steps.dns import DnsStep
from tests.operator_steps.conftest import make_ctx, make_spec

HOST = "my-api.tawa.insureco.io"
MARKER = "_tawa-owner." + HOST
OWNER = '"tawa-owner=my-api-prod/my-api"'


def step_for(settings, *, domains=(), slept=None):
    async def lookup(ctx, settings):
        return list(domains)

    async def sleep(seconds):
        slept.append(seconds)

    def connect(s):
        return CloudflareDns(
            s.cloudflare_api_token.get_secret_value(),
            base_url=s.cloudflare_base_url,
            max_wait=s.dns_max_wait_seconds,
            sleep=sleep if slept is not None else _no_sleep,
        )

    return DnsStep(settings, connect=connect, domains=lookup)


async def _no_sleep(seconds):
    return None


def by_type(fake, zone, name):
    return {r["type"]: r for r in fake.records(zone, name=name)}


async def test_creates_the_record_and_its_ownership_marker(cloudflare, dns_settings):
    zone = cloudflare.add_zone("tawa.insureco.io")
    ctx = make_ctx(make_spec())

    outcome = await step_for(dns_settings).ensure(ctx)

    assert (outcome.ok, outcome.reason, outcome.changed) == (True, "Provisioned", True)
    record = by_type(cloudflare, zone, HOST)["CNAME"]
    assert (record["content"], record["proxied"]) == ("ingress.tawa.insureco.io", True)
    assert by_type(cloudflare, zone, MARKER)["TXT"]["content"] == OWNER
    assert ctx.facts["hostnames"] == [HOST]


async def test_an_unchanged_service_makes_no_write(cloudflare, dns_settings):
    cloudflare.add_zone("tawa.insureco.io")
    step = step_for(dns_settings)
    await step.ensure(make_ctx(make_spec()))
    cloudflare.reset_calls()

    outcome = await step.ensure(make_ctx(make_spec()))

    assert (outcome.ok, outcome.changed) == (True, False)
    assert cloudflare.writes() == []
    assert cloudflare.calls, "the step must read the actual state"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"ingress_target": "edge.tawa.insureco.io"}, ("CNAME", "edge.tawa.insureco.io", True)),
        ({"dns_proxied": False}, ("CNAME", "ingress.tawa.insureco.io", False)),
        ({"ingress_target": "203.0.113.7"}, ("A", "203.0.113.7", True)),
    ],
)
async def test_updates_the_record_when_the_target_changes(
    cloudflare, dns_settings, change, expected
):
    zone = cloudflare.add_zone("tawa.insureco.io")
    await step_for(dns_settings).ensure(make_ctx(make_spec()))
    cloudflare.reset_calls()

    changed = dns_settings.model_copy(update=change)
    outcome = await step_for(changed).ensure(make_ctx(make_spec()))

    records = [r for r in cloudflare.records(zone, name=HOST)]
    assert [(r["type"], r["content"], r["proxied"]) for r in records] == [expected]
    assert outcome.changed
    edits = [c.method for c in cloudflare.writes()]
    assert edits == (["PATCH"] if expected[0] == "CNAME" else ["DELETE", "POST"])


async def test_a_record_tawa_did_not_create_is_left_alone(cloudflare, dns_settings):
    zone = cloudflare.add_zone("tawa.insureco.io")
    cloudflare.add_record(zone, name=HOST, type="CNAME", content="legacy.example.net")
    cloudflare.reset_calls()

    outcome = await step_for(dns_settings).ensure(make_ctx(make_spec()))

    assert (outcome.ok, outcome.reason) == (False, "HostnameTaken")
    assert "legacy.example.net" in outcome.message
    assert "did not create" in outcome.message
    assert cloudflare.writes() == []

    await step_for(dns_settings).remove(make_ctx(make_spec()))
    assert by_type(cloudflare, zone, HOST)["CNAME"]["content"] == "legacy.example.net"


async def test_a_name_claimed_by_another_service_names_its_owner(cloudflare, dns_settings):
    zone = cloudflare.add_zone("tawa.insureco.io")
    cloudflare.add_record(zone, name=MARKER, type="TXT", content='"tawa-owner=other-prod/other"')

    outcome = await step_for(dns_settings).ensure(make_ctx(make_spec()))

    assert outcome.reason == "HostnameTaken"
    assert "other-prod/other" in outcome.message
    assert by_type(cloudflare, zone, HOST) == {}


async def test_rate_limit_waits_for_retry_after_then_succeeds(cloudflare, dns_settings):
    zone = cloudflare.add_zone("tawa.insureco.io")
    cloudflare.fail_next(429, retry_after="3", method="POST")
    slept: list[float] = []

    outcome = await step_for(dns_settings, slept=slept).ensure(make_ctx(make_spec()))

    assert outcome.ok
    assert slept == [3.0]
    assert "CNAME" in by_type(cloudflare, zone, HOST)


async def test_rate_limit_beyond_the_wait_budget_is_a_temporary_error(cloudflare, dns_settings):
    cloudflare.add_zone("tawa.insureco.io")
    cloudflare.fail_next(429, retry_after="20", times=5)
    slept: list[float] = []

    with pytest.raises(kopf.TemporaryError) as raised:
        await step_for(dns_settings, slept=slept).ensure(make_ctx(make_spec()))

    assert raised.value.delay == 20
    assert sum(slept) <= dns_settings.dns_max_wait_seconds


async def test_custom_domains_are_managed_and_unbound_ones_removed(cloudflare, dns_settings):
    platform = cloudflare.add_zone("tawa.insureco.io")
    customer = cloudflare.add_zone("customer.com")
    await step_for(dns_settings, domains=["API.customer.com"]).ensure(make_ctx(make_spec()))
    assert "CNAME" in by_type(cloudflare, customer, "api.customer.com")

    outcome = await step_for(dns_settings, domains=[]).ensure(make_ctx(make_spec()))

    assert outcome.changed
    assert cloudflare.records(customer) == []
    assert set(by_type(cloudflare, platform, HOST)) == {"CNAME"}


async def test_a_domain_outside_the_account_is_reported(cloudflare, dns_settings):
    cloudflare.add_zone("tawa.insureco.io")

    outcome = await step_for(dns_settings, domains=["shop.elsewhere.org"]).ensure(
        make_ctx(make_spec())
    )

    assert outcome.ok
    assert "shop.elsewhere.org" in outcome.message


async def test_remove_deletes_only_what_the_service_owns(cloudflare, dns_settings):
    platform = cloudflare.add_zone("tawa.insureco.io")
    customer = cloudflare.add_zone("customer.com")
    foreign = cloudflare.add_record(
        platform, name="www.tawa.insureco.io", type="A", content="192.0.2.1"
    )
    await step_for(dns_settings, domains=["api.customer.com"]).ensure(make_ctx(make_spec()))
    await step_for(dns_settings).ensure(make_ctx(make_spec("other-svc")))

    await step_for(dns_settings).remove(make_ctx(make_spec()))

    assert cloudflare.records(customer) == []
    names = {r["name"] for r in cloudflare.records(platform)}
    assert names == {foreign["name"], "other-svc.tawa.insureco.io",
                     "_tawa-owner.other-svc.tawa.insureco.io"}  # fmt: skip


async def test_sandbox_hostname_has_the_environment_label(cloudflare, dns_settings):
    zone = cloudflare.add_zone("tawa.insureco.io")

    await step_for(dns_settings).ensure(make_ctx(make_spec(environment="sandbox")))

    assert "CNAME" in by_type(cloudflare, zone, "my-api.sandbox.tawa.insureco.io")


async def test_without_a_token_the_step_is_skipped():
    settings = ProvisioningSettings(cloudflare_api_token=SecretStr(""))

    outcome = await DnsStep(settings).ensure(make_ctx(make_spec()))

    assert (outcome.ok, outcome.reason) == (True, "Skipped")
    assert "TAWA_CLOUDFLARE_API_TOKEN" in outcome.message


async def test_listing_reads_every_page_and_no_empty_one(cloudflare):
    zone_id = cloudflare.add_zone("big.example")
    for index in range(230):
        cloudflare.add_record(zone_id, name=f"h{index}.big.example", type="A", content="192.0.2.1")
    dns = CloudflareDns(cloudflare.token, base_url=cloudflare.base_url)
    cloudflare.reset_calls()

    zone = await dns.zone_named("big.example")
    found = await dns.records(zone)
    await dns.close()

    assert len(found) == 230
    pages = [c.query.get("page", "1") for c in cloudflare.calls if "dns_records" in c.path]
    assert pages == ["1", "2", "3"]


async def test_of_two_racing_claims_the_first_wins(cloudflare, dns_settings):
    zone = cloudflare.add_zone("tawa.insureco.io")
    first = cloudflare.add_record(zone, name=MARKER, type="TXT", content='"tawa-owner=rival/rival"')
    cloudflare.add_record(zone, name=MARKER, type="TXT", content=OWNER)
    cloudflare.add_record(zone, name=HOST, type="CNAME", content="ingress.tawa.insureco.io")

    outcome = await step_for(dns_settings).ensure(make_ctx(make_spec()))

    assert outcome.reason == "HostnameTaken"
    assert "rival/rival" in outcome.message
    assert [r["id"] for r in cloudflare.records(zone, name=MARKER)] == [first["id"]]
    assert "CNAME" in by_type(cloudflare, zone, HOST)


async def test_a_losing_claim_is_removed_without_touching_the_winners_record(
    cloudflare, dns_settings
):
    zone = cloudflare.add_zone("tawa.insureco.io")
    cloudflare.add_record(zone, name=MARKER, type="TXT", content='"tawa-owner=rival/rival"')
    cloudflare.add_record(zone, name=MARKER, type="TXT", content=OWNER)
    cloudflare.add_record(zone, name=HOST, type="CNAME", content="ingress.tawa.insureco.io")

    await step_for(dns_settings).remove(make_ctx(make_spec()))

    assert [r["content"] for r in cloudflare.records(zone, name=MARKER)] == [
        '"tawa-owner=rival/rival"'
    ]
    assert "CNAME" in by_type(cloudflare, zone, HOST)


async def test_a_cloudflare_failure_is_a_temporary_error_naming_it(cloudflare, dns_settings):
    cloudflare.add_zone("tawa.insureco.io")
    cloudflare.fail_next(500, retry_after=None)

    with pytest.raises(kopf.TemporaryError) as raised:
        await step_for(dns_settings).ensure(make_ctx(make_spec()))

    assert "Cloudflare answered 500" in str(raised.value)
    assert cloudflare.token not in str(raised.value)
