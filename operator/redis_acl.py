"""Redis ACL users for services, each confined to one key and channel prefix.

Redis is one shared instance. A service gets the user ``{service}-{env}``
that may touch only keys and channels under ``{service}-{env}:``; a consumer
granted another service's data gets ``{consumer}-{env}.{owner}`` on the
owner's prefix, read-only or read-write.

Commands that would reach past the prefix or affect other tenants are refused
even inside it: the ``@admin`` and ``@dangerous`` categories (``KEYS``,
``FLUSHALL``, ``CONFIG``, ``INFO``, ``CLIENT KILL`` ...), ``SCAN`` and
``RANDOMKEY`` (Redis does not filter their results by key pattern, so they
would reveal other services' key names), ``SELECT`` on database 0 (keys stay
where cleanup looks for them), the server-wide ``FUNCTION`` library and
``SCRIPT FLUSH``/``KILL``, and ``PUBSUB CHANNELS`` (other tenants' channel
names). A service that needs to enumerate its keys keeps an index under its
prefix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from tawa.errors import UpstreamError

_UNLINK_BATCH = 500

_DENIED = [
    "-@admin", "-@dangerous", "-scan", "-randomkey", "-function",
    "-script|flush", "-script|kill", "-pubsub|channels", "-pubsub|shardchannels",
]  # fmt: skip
_READ_ONLY = [
    "-@all", "+@read", "+@connection", *_DENIED,
    "+subscribe", "+psubscribe", "+ssubscribe",
    "+unsubscribe", "+punsubscribe", "+sunsubscribe",
]  # fmt: skip


class RedisUnavailable(UpstreamError):
    code = "redis_unavailable"


@dataclass(frozen=True, slots=True)
class RedisUser:
    name: str
    prefix: str
    """Key and channel prefix, with its trailing colon: ``my-api-prod:``."""
    read_only: bool = False

    def command_rules(self, *, db: int = 0) -> list[str]:
        rules = list(_READ_ONLY) if self.read_only else ["+@all", *_DENIED]
        if db == 0:
            rules.append("-select")
        return rules

    def rules(self, password: str, *, db: int = 0) -> list[str]:
        keys = f"%R~{self.prefix}*" if self.read_only else f"~{self.prefix}*"
        return ["reset", "on", f">{password}", keys, f"&{self.prefix}*", *self.command_rules(db=db)]

    def fingerprint(self, *, db: int = 0) -> str:
        """A short hash of the command rules, kept beside the password to notice changes."""
        text = " ".join(self.command_rules(db=db))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class RedisAcl:
    """ACL and key administration through an admin connection."""

    def __init__(self, client: aioredis.Redis, *, db: int = 0) -> None:
        self._client = client
        self._db = db

    @classmethod
    def from_url(cls, url: str, *, db: int = 0) -> RedisAcl:
        # After a Redis restart the pool still holds connections the server
        # closed, and redis.asyncio fails the next command on one of them
        # unless told to retry: two quick retries reconnect, while a Redis
        # that is really down still fails within a second.
        retry = Retry(ExponentialBackoff(cap=1.0, base=0.1), retries=2)
        client = aioredis.Redis.from_url(
            url, socket_timeout=5.0, retry=retry, retry_on_error=[RedisConnectionError]
        )
        return cls(client, db=db)

    async def close(self) -> None:
        await self._client.aclose()

    async def matches(self, user: RedisUser, password: str) -> bool:
        """Whether ``user`` exists, is enabled, and has this password, keys and channels.

        The command rules are not compared here: Redis rewrites them into a
        version-dependent form. The caller compares :meth:`RedisUser.fingerprint`.
        """
        found = await self._run("ACL GETUSER", user.name)
        if not found:
            return False
        info = _decoded(found)
        expected_keys = f"%R~{user.prefix}*" if user.read_only else f"~{user.prefix}*"
        return (
            "on" in info.get("flags", [])
            and info.get("passwords") == [hashlib.sha256(password.encode()).hexdigest()]
            and _words(info.get("keys")) == [expected_keys]
            and _words(info.get("channels")) == [f"&{user.prefix}*"]
        )

    async def ensure(self, user: RedisUser, password: str) -> None:
        await self._run("ACL SETUSER", user.name, *user.rules(password, db=self._db))
        await self._save()

    async def delete(self, name: str) -> None:
        await self._run("ACL DELUSER", name)
        await self._save()

    async def drop_keys(self, prefix: str) -> int:
        """Unlink every key under ``prefix`` (``SCAN`` + ``UNLINK`` in batches)."""
        removed, batch = 0, []
        try:
            async for key in self._client.scan_iter(match=f"{prefix}*", count=_UNLINK_BATCH):
                batch.append(key)
                if len(batch) >= _UNLINK_BATCH:
                    removed += await self._client.unlink(*batch)
                    batch.clear()
            if batch:
                removed += await self._client.unlink(*batch)
        except RedisError as error:
            raise RedisUnavailable(
                f"Redis failed while removing keys: {type(error).__name__}."
            ) from error
        return removed

    async def _save(self) -> None:
        # With an ACL file, users survive a restart only once saved; without
        # one Redis refuses ACL SAVE and the drift timer re-creates them.
        try:
            await self._client.execute_command("ACL SAVE")  # type: ignore[no-untyped-call]
        except ResponseError:
            pass
        except RedisError as error:
            raise RedisUnavailable(f"Redis failed on ACL SAVE: {type(error).__name__}.") from error

    async def _run(self, *command: Any) -> Any:
        try:
            return await self._client.execute_command(*command)  # type: ignore[no-untyped-call]
        except RedisError as error:
            # The message of an ACL SETUSER error may echo its arguments.
            verb = " ".join(str(part) for part in command[:1])
            raise RedisUnavailable(f"Redis failed on {verb}: {type(error).__name__}.") from error


def _decoded(raw: Any) -> dict[str, Any]:
    if isinstance(raw, list):
        raw = dict(zip(raw[::2], raw[1::2], strict=True))

    def text(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, list):
            return [text(v) for v in value]
        return value

    return {text(k): text(v) for k, v in raw.items()}


def _words(value: Any) -> list[str]:
    """redis-py gives key and channel patterns as a list or one spaced string."""
    if isinstance(value, str):
        return value.split()
    return [str(v) for v in value or []]
