"""The operator's boundary to Cloudflare's DNS API.

A thin layer over the ``cloudflare`` SDK that the DNS step talks to: zone
lookup, record list/create/edit/delete, translated into :class:`DnsRecord`
values and :class:`DnsError`. Rate limits are handled here, once: a 429 waits
for ``Retry-After`` (or an exponential back-off) and retries, bounded by a
total wait, after which :class:`DnsRateLimited` tells the caller how long to
come back later. The SDK's own retries are switched off so that this is the
only retry policy. Which records to write is the step's business, not this
module's.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import cloudflare

from tawa.errors import UpstreamError

T = TypeVar("T")
PER_PAGE = 100


class DnsError(UpstreamError):
    code = "dns_error"


class DnsRateLimited(DnsError):
    code = "dns_rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class DnsRecord:
    id: str
    name: str
    type: str
    content: str
    proxied: bool = False
    ttl: float = 1
    created_on: str = ""
    """ISO 8601 as Cloudflare writes it; orders claims made in a race."""


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    name: str


class CloudflareDns:
    """Calls to one Cloudflare account, with one retry policy for rate limits."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        max_wait: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sdk = cloudflare.AsyncCloudflare(api_token=token, base_url=base_url, max_retries=0)
        # The SDK overloads create/edit per literal record type; we pass the type as data.
        self._records: Any = self._sdk.dns.records
        self._max_wait = max_wait
        self._sleep = sleep
        self._zones: dict[str, Zone | None] = {}

    async def close(self) -> None:
        await self._sdk.close()

    async def zone_for(self, host: str) -> Zone | None:
        """The account's zone that holds ``host`` (the longest matching suffix)."""
        labels = host.lower().rstrip(".").split(".")
        for start in range(len(labels) - 1):
            candidate = ".".join(labels[start:])
            zone = await self.zone_named(candidate)
            if zone is not None:
                return zone
        return None

    async def zone_named(self, name: str) -> Zone | None:
        if name not in self._zones:
            found = await self._call(lambda: _collect(self._sdk.zones.list(name=name), 20))
            self._zones[name] = next((Zone(z.id, z.name) for z in found if z.name == name), None)
        return self._zones[name]

    async def zones(self) -> list[Zone]:
        found = await self._call(lambda: _collect(self._sdk.zones.list(per_page=50), 50))
        return [Zone(z.id, z.name) for z in found]

    async def records(
        self,
        zone: Zone,
        *,
        name: str | None = None,
        type: str | None = None,
        content: str | None = None,
    ) -> list[DnsRecord]:
        filters: dict[str, Any] = {"zone_id": zone.id, "per_page": PER_PAGE}
        if name is not None:
            filters["name"] = {"exact": name}
        if type is not None:
            filters["type"] = type
        if content is not None:
            filters["content"] = {"exact": content}
        found = await self._call(lambda: _collect(self._sdk.dns.records.list(**filters), PER_PAGE))
        return [_record(r) for r in found]

    async def create(
        self, zone: Zone, *, name: str, type: str, content: str, proxied: bool
    ) -> None:
        await self._call(
            lambda: self._records.create(
                zone_id=zone.id, name=name, type=type, content=content, ttl=1, proxied=proxied
            )
        )

    async def edit(self, zone: Zone, record: DnsRecord, *, content: str, proxied: bool) -> None:
        await self._call(
            lambda: self._records.edit(
                record.id, zone_id=zone.id, name=record.name, type=record.type,
                content=content, proxied=proxied, ttl=1,
            )
        )  # fmt: skip

    async def delete(self, zone: Zone, record: DnsRecord) -> None:
        try:
            await self._call(lambda: self._sdk.dns.records.delete(record.id, zone_id=zone.id))
        except DnsError as error:
            if not isinstance(error.__cause__, cloudflare.NotFoundError):
                raise  # already gone is what we wanted

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        """Run ``request``, waiting out rate limits up to the total wait budget."""
        waited, attempt = 0.0, 0
        while True:
            try:
                return await request()
            except cloudflare.RateLimitError as error:
                delay = _retry_after(error.response.headers.get("retry-after"), attempt)
                if waited + delay > self._max_wait:
                    message = f"Cloudflare rate limit: still limited after waiting {waited:.0f}s."
                    raise DnsRateLimited(message, retry_after=delay) from error
                await self._sleep(delay)
                waited, attempt = waited + delay, attempt + 1
            except cloudflare.APIStatusError as error:
                message = f"Cloudflare answered {error.status_code}: {_first_error(error.body)}"
                raise DnsError(message) from error
            except cloudflare.APIError as error:
                raise DnsError(f"Cloudflare is unreachable: {type(error).__name__}.") from error


async def _collect(pages: Any, per_page: int) -> list[Any]:
    """Every item of a listing; a short page is the last one (no empty page fetched)."""
    page = await pages
    items = list(page.result or [])
    while len(page.result or []) >= per_page and page.has_next_page():
        page = await page.get_next_page()
        items.extend(page.result or [])
    return items


def _record(raw: Any) -> DnsRecord:
    return DnsRecord(
        id=raw.id,
        name=raw.name,
        type=raw.type,
        content=raw.content or "",
        proxied=bool(getattr(raw, "proxied", False)),
        ttl=float(raw.ttl or 1),
        created_on=str(getattr(raw, "created_on", "") or ""),
    )


def _retry_after(header: str | None, attempt: int) -> float:
    """Seconds to wait: the header as seconds or HTTP date, else 1, 2, 4, ... seconds."""
    if header:
        try:
            return max(float(header), 0.0)
        except ValueError:
            pass
        try:
            moment = email.utils.parsedate_to_datetime(header)
            return max(moment.timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            pass
    return float(2**attempt)


def _first_error(body: object) -> str:
    if isinstance(body, dict):
        errors = body.get("errors") or []
        if errors and isinstance(errors[0], dict):
            return f"{errors[0].get('message', 'error')} (code {errors[0].get('code')})."
    return "no details."
