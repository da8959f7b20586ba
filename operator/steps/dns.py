"""DNS step: the service's hostnames in Cloudflare, owned through a TXT record.

For the environment hostname and every custom domain bound in the registry,
the step keeps one address record pointing at the ingress (a CNAME for a
hostname target, A/AAAA for an IP) plus an ownership marker: a TXT record
``_tawa-owner.{host}`` whose content names the service. The marker is how the
platform knows a record is its own. A name that holds records without our
marker belongs to someone else and is never changed or deleted; the condition
names the holder and says how to free the name.

The marker names ``namespace/name`` and not the resource's uid on purpose: a
service deleted while the operator was down and created again must get its
hostname back, not find it held by its former self.

Without a Cloudflare token the step does nothing and says so. The Cloudflare
calls and their rate-limit policy live in :mod:`tawa.operator.cloudflare_dns`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import kopf

from tawa.operator.cloudflare_dns import CloudflareDns, DnsError, DnsRateLimited, DnsRecord, Zone
from tawa.operator.provisioning_settings import ProvisioningSettings, provisioning_settings
from tawa.operator.registry_reads import RegistryUnavailable, bound_domains
from tawa.operator.step import Outcome, StepContext
from tawa.resource import hostname_for

MARKER_PREFIX = "_tawa-owner."
OWNER_PREFIX = "tawa-owner="
ADDRESS_TYPES = frozenset({"A", "AAAA", "CNAME"})

Connect = Callable[[ProvisioningSettings], CloudflareDns]
DomainLookup = Callable[[StepContext, ProvisioningSettings], Awaitable[list[str]]]


@dataclass(frozen=True, slots=True)
class Target:
    """What every managed hostname points at."""

    type: str
    content: str
    proxied: bool

    @classmethod
    def parse(cls, target: str, *, proxied: bool) -> Target:
        try:
            address = ipaddress.ip_address(target)
        except ValueError:
            return cls("CNAME", target.lower().rstrip("."), proxied)
        return cls("A" if address.version == 4 else "AAAA", str(address), proxied)


@dataclass(slots=True)
class Report:
    changed: bool = False
    taken: list[str] = field(default_factory=list)
    """Sentences naming a host and who holds it."""
    outside: list[str] = field(default_factory=list)
    """Custom domains in no zone of the account."""


def owner_value(ctx: StepContext) -> str:
    return f"{OWNER_PREFIX}{ctx.namespace}/{ctx.name}"


def environment_host(ctx: StepContext, settings: ProvisioningSettings) -> str:
    host = getattr(ctx.spec, "hostname", None) or hostname_for(
        ctx.name, ctx.environment, settings.base_domain
    )
    return str(host).lower().rstrip(".")


async def _registry_domains(ctx: StepContext, settings: ProvisioningSettings) -> list[str]:
    return await bound_domains(settings, service=ctx.name, environment=ctx.environment)


def _connect(settings: ProvisioningSettings) -> CloudflareDns:
    return CloudflareDns(
        settings.cloudflare_api_token.get_secret_value(),
        base_url=settings.cloudflare_base_url,
        max_wait=settings.dns_max_wait_seconds,
    )


class DnsStep:
    name: ClassVar[str] = "dns"
    condition: ClassVar[str] = "DNSReady"

    def __init__(
        self,
        settings: Any,
        *,
        connect: Connect = _connect,
        domains: DomainLookup = _registry_domains,
    ) -> None:
        self._settings = provisioning_settings(settings)
        self._connect = connect
        self._domains = domains

    async def ensure(self, ctx: StepContext) -> Outcome:
        settings = self._settings
        if not settings.cloudflare_api_token.get_secret_value():
            message = "DNS is not managed here: TAWA_CLOUDFLARE_API_TOKEN is not set."
            return Outcome(ok=True, reason="Skipped", message=message)
        if not settings.ingress_target:
            message = "TAWA_INGRESS_TARGET is not set, so there is nothing to point hostnames at."
            return Outcome(ok=False, reason="NotConfigured", message=message)

        # The registry says which custom domains are bound; without it we cannot
        # tell a domain that was unbound from one we failed to read.
        primary = environment_host(ctx, settings)
        try:
            custom = [d.lower().rstrip(".") for d in await self._domains(ctx, settings)]
        except RegistryUnavailable as error:
            message = f"{error.message} Custom domains are unknown until it answers."
            raise kopf.TemporaryError(message, delay=self._settings.retry_delay) from error
        hosts = list(dict.fromkeys([primary, *custom]))
        ctx.facts["hostnames"] = hosts

        target = Target.parse(settings.ingress_target, proxied=settings.dns_proxied)
        dns = self._connect(settings)
        try:
            report, zone_missing = await self._reconcile(dns, ctx, settings, hosts, target)
        # The pipeline adds "retrying in N s" to the condition; the delay says N.
        except DnsRateLimited as error:
            delay = max(error.retry_after, 5.0)
            raise kopf.TemporaryError(error.message, delay=delay) from error
        except DnsError as error:
            raise kopf.TemporaryError(error.message, delay=self._settings.retry_delay) from error
        finally:
            await dns.close()
        return _outcome(primary, hosts, target, report, zone_missing=zone_missing)

    async def remove(self, ctx: StepContext) -> None:
        settings = self._settings
        if not settings.cloudflare_api_token.get_secret_value():
            return
        dns = self._connect(settings)
        try:
            # Every zone the token reaches: a custom domain may have been
            # unbound from the registry before the service was deleted.
            for zone in await dns.zones():
                await _release_hosts(dns, zone, owner_value(ctx), keep=set())
        except DnsError as error:
            raise kopf.TemporaryError(
                f"{error.message} DNS records not yet removed; retrying.",
                delay=self._settings.retry_delay,
            ) from error
        finally:
            await dns.close()

    async def _reconcile(
        self,
        dns: CloudflareDns,
        ctx: StepContext,
        settings: ProvisioningSettings,
        hosts: list[str],
        target: Target,
    ) -> tuple[Report, bool]:
        report = Report()
        primary_zone = await _primary_zone(dns, settings, hosts[0])
        for host in hosts:
            zone = primary_zone if host == hosts[0] else await dns.zone_for(host)
            if zone is None:
                report.outside.append(host)
                continue
            await _ensure_host(
                dns, zone, host, owner=owner_value(ctx), target=target, report=report
            )

        # Records of hostnames no longer wanted (an unbound custom domain) may
        # sit in any zone of the account: one TXT query per zone finds them.
        for zone in await dns.zones():
            if await _release_hosts(dns, zone, owner_value(ctx), keep=set(hosts)):
                report.changed = True
        return report, primary_zone is None


async def _primary_zone(
    dns: CloudflareDns, settings: ProvisioningSettings, host: str
) -> Zone | None:
    if settings.cloudflare_zone:
        zone = await dns.zone_named(settings.cloudflare_zone)
        if zone is not None and (host == zone.name or host.endswith("." + zone.name)):
            return zone
    return await dns.zone_for(host)


async def _ensure_host(
    dns: CloudflareDns, zone: Zone, host: str, *, owner: str, target: Target, report: Report
) -> None:
    markers = await dns.records(zone, name=MARKER_PREFIX + host, type="TXT")
    present = [r for r in await dns.records(zone, name=host) if r.type in ADDRESS_TYPES]
    claims = _claims(markers)
    if claims and _unquote(claims[0].content) != owner:
        # Another service claimed the name first (perhaps in a race with us):
        # give way, and take back a later claim of ours.
        for claim in claims[1:]:
            if _unquote(claim.content) == owner:
                await dns.delete(zone, claim)
                report.changed = True
        holder = _unquote(claims[0].content).removeprefix(OWNER_PREFIX)
        report.taken.append(f"{host} belongs to the Tawa service {holder}")
        return
    if not claims:
        if present:
            report.taken.append(_foreign(host, present[0]))
            return
        # Claim the name before pointing it anywhere: a crash in between leaves
        # a claim we recognise, never a record we would refuse to touch.
        await dns.create(
            zone, name=MARKER_PREFIX + host, type="TXT", content=_quote(owner), proxied=False
        )
        report.changed = True

    for record in present:
        if record.type != target.type:
            await dns.delete(zone, record)
            report.changed = True
    matching = [r for r in present if r.type == target.type]
    if not matching:
        await dns.create(
            zone, name=host, type=target.type, content=target.content, proxied=target.proxied
        )
        report.changed = True
        return
    first, *duplicates = matching
    if not _same(first, target):
        await dns.edit(zone, first, content=target.content, proxied=target.proxied)
        report.changed = True
    for record in duplicates:
        await dns.delete(zone, record)
        report.changed = True


async def _release_hosts(dns: CloudflareDns, zone: Zone, owner: str, *, keep: set[str]) -> bool:
    """Delete the records of every host in ``zone`` that we mark and no longer want."""
    changed = False
    for marker in await dns.records(zone, type="TXT", content=_quote(owner)):
        host = marker.name.removeprefix(MARKER_PREFIX)
        if not marker.name.startswith(MARKER_PREFIX) or host in keep:
            continue
        if await _first_claim(dns, zone, marker.name) == owner:
            for record in await dns.records(zone, name=host):
                if record.type in ADDRESS_TYPES:
                    await dns.delete(zone, record)
        await dns.delete(zone, marker)  # the claim goes last, as it came first
        changed = True
    return changed


def _claims(markers: list[DnsRecord]) -> list[DnsRecord]:
    """Ownership markers, oldest first: the oldest one holds the name."""
    found = (m for m in markers if _unquote(m.content).startswith(OWNER_PREFIX))
    return sorted(found, key=lambda m: (m.created_on, m.id))


async def _first_claim(dns: CloudflareDns, zone: Zone, marker_name: str) -> str | None:
    claims = _claims(await dns.records(zone, name=marker_name, type="TXT"))
    return _unquote(claims[0].content) if claims else None


def _foreign(host: str, record: DnsRecord) -> str:
    return (
        f"{host} holds a {record.type} record to {record.content} that Tawa did not "
        "create; delete it in Cloudflare to let Tawa manage the name"
    )


def _same(record: DnsRecord, target: Target) -> bool:
    content = record.content.lower().rstrip(".")
    return content == target.content and record.proxied == target.proxied


def _quote(text: str) -> str:
    return f'"{text}"'


def _unquote(text: str) -> str:
    return text.strip().strip('"')


def _outcome(
    primary: str, hosts: list[str], target: Target, report: Report, *, zone_missing: bool
) -> Outcome:
    if zone_missing:
        message = f"No Cloudflare zone of this account holds {primary}; set TAWA_CLOUDFLARE_ZONE."
        return Outcome(ok=False, reason="ZoneNotFound", message=message, changed=report.changed)
    if report.taken:
        message = "; ".join(report.taken) + "."
        return Outcome(ok=False, reason="HostnameTaken", message=message, changed=report.changed)
    managed = [h for h in hosts if h not in report.outside]
    message = f"{', '.join(managed)} → {target.type} {target.content}"
    message += " (proxied)." if target.proxied else "."
    if report.outside:
        message += (
            f" Not in a Cloudflare zone of the platform: {', '.join(report.outside)}; "
            f"point a CNAME at {target.content} at your DNS provider."
        )
    return Outcome(ok=True, reason="Provisioned", message=message, changed=report.changed)


STEP = DnsStep
