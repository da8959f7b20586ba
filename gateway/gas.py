"""Gas metering off the request path: usage events, their shipping, balances.

A 2xx answer on a route with gas becomes a :class:`UsageEvent` with a unique
id, appended to a bounded in-memory buffer. One background task ships the
buffer to the wallet in batches (``POST /v1/usage``) and retries with backoff
while the wallet is unreachable; the wallet deduplicates by id, so a retry
after a lost answer never charges twice. When the buffer is full the oldest
event is dropped and counted (``tawa_gateway_usage_dropped_total``): memory
stays bounded and the loss is visible. Events are not spilled to disk: a
gateway pod's disk is as ephemeral as its memory, and shutdown drains the
buffer for ``usage_drain_seconds`` before giving up (and says how many).

:class:`Balances` caches each org's ``apiSpendable`` so a request billed to a
wallet known to be empty gets a 402 without a round trip. The cache fails
open: an org not yet looked up is served and looked up in the background.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import aiohttp

from tawa.gateway import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UsageEvent:
    id: str
    org: str
    service: str
    environment: str
    route: str
    amount: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "org": self.org,
            "service": self.service,
            "environment": self.environment,
            "route": self.route,
            "amount": self.amount,
        }


# Event ids: a random prefix per process and a counter. As unique as a uuid4 per event
# (the prefix is one) at a fraction of the cost, on a path taken by every paid request.
_ID_PREFIX = uuid.uuid4().hex
_ID_COUNTER = itertools.count(1)


def usage_event(*, org: str, service: str, environment: str, route: str, amount: int) -> UsageEvent:
    event_id = f"{_ID_PREFIX}-{next(_ID_COUNTER):x}"
    return UsageEvent(event_id, org, service, environment, route, amount)


class Balances:
    """Last known ``apiSpendable`` per org, refreshed in the background."""

    def __init__(self, wallet: WalletApi, *, refresh_seconds: float) -> None:
        self.wallet = wallet
        self.refresh_seconds = refresh_seconds
        self._known: dict[str, tuple[float, int]] = {}
        self._pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def is_known_empty(self, org: str, amount: int) -> bool:
        """True when the cache says ``org`` cannot pay ``amount``; refreshes stale entries."""
        known = self._known.get(org)
        if known is None or time.monotonic() - known[0] > self.refresh_seconds:
            self.refresh(org)
        return known is not None and known[1] < amount

    def spent(self, org: str, amount: int) -> None:
        """Lower the cached balance by what was just charged, until the next refresh."""
        known = self._known.get(org)
        if known is not None:
            self._known[org] = (known[0], known[1] - amount)

    def mark_empty(self, org: str) -> None:
        self._known[org] = (time.monotonic(), 0)

    def refresh(self, org: str) -> None:
        if org in self._pending:
            return
        self._pending.add(org)
        task = asyncio.get_running_loop().create_task(self._refresh(org))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, org: str) -> None:
        try:
            spendable = await self.wallet.spendable(org)
            if spendable is not None:
                self._known[org] = (time.monotonic(), spendable)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("Could not read the balance of org %s: %s", org, _reason(exc))
        finally:
            self._pending.discard(org)


class WalletApi:
    """The two wallet calls the gateway makes, over the gateway's HTTP session."""

    def __init__(
        self, session: aiohttp.ClientSession, *, url: str, internal_key: str, timeout: float
    ) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self.headers = {"X-Internal-Key": internal_key}
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def spendable(self, org: str) -> int | None:
        """``apiSpendable`` of the org's wallet; 0 if it has none; None if unknown."""
        url = f"{self.url}/v1/wallets/wallet-{org}"
        async with self.session.get(url, headers=self.headers, timeout=self.timeout) as response:
            if response.status == 404:
                return 0
            if response.status != 200:
                log.warning("The wallet answered %s for org %s.", response.status, org)
                return None
            return int((await response.json())["apiSpendable"])

    async def post_usage(self, events: list[UsageEvent]) -> list[dict[str, Any]]:
        body = {"events": [event.as_json() for event in events]}
        url = f"{self.url}/v1/usage"
        async with self.session.post(
            url, json=body, headers=self.headers, timeout=self.timeout
        ) as response:
            if response.status != 200:
                raise aiohttp.ClientResponseError(
                    response.request_info, (), status=response.status, message="usage refused"
                )
            results: list[dict[str, Any]] = (await response.json())["results"]
            return results


class UsageShipper:
    """The bounded buffer of usage events and the task that ships it."""

    def __init__(
        self,
        wallet: WalletApi,
        balances: Balances,
        *,
        capacity: int,
        batch_size: int,
        flush_seconds: float,
    ) -> None:
        self.wallet = wallet
        self.balances = balances
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self._buffer: deque[UsageEvent] = deque()
        self._in_flight = 0
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._buffer) + self._in_flight

    def record(self, event: UsageEvent) -> None:
        self._buffer.append(event)
        self._trim()
        self.balances.spent(event.org, event.amount)
        metrics.USAGE_BUFFERED.set(len(self))
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    async def run(self) -> None:
        """Ship forever; retry with backoff while the wallet is unreachable."""
        backoff = self.flush_seconds
        while True:
            if not self._buffer:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
                except TimeoutError:
                    continue
            if await self.ship_once():
                backoff = self.flush_seconds
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def ship_once(self) -> bool:
        """Send one batch; False (events kept, in order) when the wallet failed."""
        batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
        self._in_flight = len(batch)
        try:
            results = await self.wallet.post_usage(batch)
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
            self._buffer.extendleft(reversed(batch))
            self._trim()
            metrics.USAGE_SHIP_FAILURES.inc()
            log.warning(
                "Shipping %d usage events failed (%s); will retry.", len(batch), _reason(exc)
            )
            return False
        finally:
            self._in_flight = 0
            metrics.USAGE_BUFFERED.set(len(self))
        self._settle(batch, results)
        return True

    def _trim(self) -> None:
        """Drop the oldest events beyond capacity (the batch in flight is not counted:
        it is back at the head if it fails, and the oldest then)."""
        while len(self._buffer) > self.capacity:
            dropped = self._buffer.popleft()
            metrics.USAGE_DROPPED.inc()
            log.error(
                "The usage buffer is full; dropped event %s of org %s.", dropped.id, dropped.org
            )

    async def drain(self, deadline_seconds: float) -> None:
        """Ship what is buffered before shutdown, for at most ``deadline_seconds``."""
        deadline = time.monotonic() + deadline_seconds
        while self._buffer and time.monotonic() < deadline:
            if not await self.ship_once():
                await asyncio.sleep(0.2)
        if self._buffer:
            log.error("Shutting down with %d usage events not shipped.", len(self._buffer))

    def _settle(self, batch: list[UsageEvent], results: list[dict[str, Any]]) -> None:
        by_id = {event.id: event for event in batch}
        for result in results:
            status = result.get("status")
            event = by_id.get(str(result.get("id")))
            metrics.USAGE_RESULTS.labels(str(status)).inc()
            if event is None:
                continue
            if status == "insufficient_funds":
                self.balances.mark_empty(event.org)
            elif status == "invalid":
                log.error("The wallet refused usage event %s of org %s.", event.id, event.org)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
