"""Keeping the route table in step with the registry.

Two paths lead to a catch-up (:meth:`RouteSync.catch_up`: read the changes
since the version we hold, apply them, or reload in full when the registry no
longer has that history):

- a message on the Redis channel ``tawa.registry.changes`` (the fast path,
  well under a second);
- every (re)subscription to that channel, since messages published while we
  were disconnected are gone for good.

A timer (``route_resync_seconds``) reloads the whole table. It heals what a
catch-up cannot see: a change the registry logged out of order (two registry
replicas writing at once) and skipped by a catch-up that had already passed
its version. The table is small, so a full read every few seconds is cheap.

Redis being down therefore costs freshness, never correctness: the listener
reconnects with backoff and catches up as soon as it is back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tawa.gateway import metrics
from tawa.gateway.routes import RouteTable, route_from_record

CHANNEL = "tawa.registry.changes"
log = logging.getLogger(__name__)


class RegistryUnavailable(Exception):
    """The registry could not be read; the table we hold stays in use."""


class RouteSync:
    def __init__(
        self,
        table: RouteTable,
        session: aiohttp.ClientSession,
        *,
        registry_url: str,
        internal_key: str,
        environment: str,
        redis_url: str,
        resync_seconds: float,
    ) -> None:
        self.table = table
        self.session = session
        self.registry_url = registry_url.rstrip("/")
        self.headers = {"X-Internal-Key": internal_key}
        self.environment = environment
        self.redis_url = redis_url
        self.resync_seconds = resync_seconds
        self.loaded = False
        self._lock = asyncio.Lock()
        self._timeout = aiohttp.ClientTimeout(total=10.0)

    async def load(self) -> None:
        """Replace the whole table with the registry's."""
        async with self._lock:
            await self._load()

    async def catch_up(self) -> None:
        """Apply the changes since the version we hold (a full load if we hold none)."""
        async with self._lock:
            if not self.loaded:
                await self._load()
                return
            status, body = await self._get(f"/v1/routes/changes?since={self.table.version}")
            if status == 410:
                log.info(
                    "The registry no longer has changes since %d; reloading.", self.table.version
                )
                await self._load()
                return
            if status != 200:
                raise RegistryUnavailable(f"the registry answered {status} for route changes")
            changes = body.get("changes", [])
            if not all(self._applies(change) for change in changes):
                await self._load()
                return
            for change in changes:
                self._apply(change)
            self.table.version = max(self.table.version, int(body.get("version", 0)))
            self._observe()

    async def follow(self) -> None:
        """Listen on Redis forever, reconnecting with backoff; catch up on each message."""
        backoff = 0.1
        while True:
            client = aioredis.from_url(self.redis_url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    backoff = 0.1
                    await self._catch_up_logged("resubscribed")
                    async for message in pubsub.listen():
                        # Every notice leads to a catch-up, even one older than our version:
                        # a registry that lost its history answers 410 and we reload.
                        if message.get("type") == "message":
                            await self._catch_up_logged("message")
            except (RedisError, OSError) as exc:
                metrics.ROUTE_SYNC_FAILURES.labels("redis").inc()
                log.warning("Lost Redis (%s); reconnecting in %.1fs.", exc, backoff)
            finally:
                await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def resync_forever(self) -> None:
        """Reload the whole table now and then: the one path that heals every gap."""
        while True:
            # Until the first load succeeds (registry down at start), try every second.
            await asyncio.sleep(self.resync_seconds if self.loaded else 1.0)
            await self._catch_up_logged("timer", full=True)

    async def _catch_up_logged(self, reason: str, *, full: bool = False) -> None:
        try:
            await (self.load() if full else self.catch_up())
        except (RegistryUnavailable, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            metrics.ROUTE_SYNC_FAILURES.labels("registry").inc()
            log.warning(
                "Catching up with the registry (%s) failed: %s",
                reason,
                str(exc) or type(exc).__name__,
            )

    async def _load(self) -> None:
        status, body = await self._get(f"/v1/routes?environment={self.environment}")
        if status != 200:
            raise RegistryUnavailable(f"the registry answered {status} for the route table")
        routes = [route_from_record(record) for record in body.get("routes", [])]
        before = self.table.version if self.loaded else None
        self.table.replace([r for r in routes if r is not None], version=int(body["version"]))
        self.loaded = True
        self._observe()
        level = logging.DEBUG if before == self.table.version else logging.INFO
        log.log(
            level, "Loaded %d routes at registry version %d.", len(self.table), self.table.version
        )

    def _applies(self, change: dict[str, Any]) -> bool:
        """Whether ``change`` carries enough to be applied without a full reload."""
        if change.get("environment", self.environment) != self.environment:
            return True
        if change.get("op") == "delete":
            return True
        routes = change.get("routes")
        return isinstance(routes, list) and all(
            "upstream" in change or "upstream" in record for record in routes
        )

    def _apply(self, change: dict[str, Any]) -> None:
        version = int(change["version"])
        if change.get("environment", self.environment) != self.environment:
            self.table.version = max(self.table.version, version)
            return
        service = str(change["service"])
        if change.get("op") == "delete":
            self.table.drop_service(service, version=version)
            log.info("Routes of %s removed at version %d.", service, version)
            return
        shared = {k: change[k] for k in ("owner", "upstream") if k in change}
        records = [
            {"service": service, "environment": self.environment, **shared, **record}
            for record in change.get("routes") or []
        ]
        routes = [route_from_record(record) for record in records]
        self.table.put_service(service, [r for r in routes if r is not None], version=version)
        log.info("Routes of %s updated at version %d.", service, version)

    async def _get(self, path: str) -> tuple[int, Any]:
        url = self.registry_url + path
        async with self.session.get(url, headers=self.headers, timeout=self._timeout) as response:
            body = await response.json() if response.status == 200 else None
            return response.status, body

    def _observe(self) -> None:
        metrics.ROUTES.set(len(self.table))
        metrics.ROUTE_VERSION.set(self.table.version)
