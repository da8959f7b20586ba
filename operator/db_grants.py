"""Shared databases: users for the grants a service holds (reference 2.5.4).

An owner offers its data in ``spec.scopes``; a consumer asks with ``tawa
scopes request``; an org admin approves in the registry. The consumer's
databases step then reads its approved grants and gives it a user of its own
on the owner's data, never the owner's credentials:

- MongoDB: ``{consumer}-{env}.{owner}`` in the owner's database with ``read``
  (``readOnly``) or ``readWrite``, as ``{OWNER}_MONGODB_URI`` (a second
  database of the same owner: ``{OWNER}_{DATABASE}_MONGODB_URI``);
- Redis: an ACL user of the same name on the owner's prefix, reads only or
  all commands, as ``{OWNER}_REDIS_URL`` and ``{OWNER}_REDIS_KEY_PREFIX``.

All of them go in the Secret ``{service}-db-grants``, which also records the
grants it holds: a grant no longer approved loses its user on the consumer's
next reconcile (the drift timer runs it). The registry decides who may be
granted what; this module does not re-check the owner's ``allowedConsumers``.
When the registry cannot be read, the users already granted are kept and the
condition says so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tawa.operator import db_credentials as creds
from tawa.operator.kube_secrets import SecretStore, StoredSecret
from tawa.operator.mongo_users import MongoCommands, MongoUser, Role, drop_user, ensure_user
from tawa.operator.provisioning_settings import ProvisioningSettings
from tawa.operator.redis_acl import RedisAcl, RedisUser
from tawa.operator.registry_reads import Grant, RegistryUnavailable, approved_grants
from tawa.operator.step import StepContext
from tawa.resource import Access, DatabaseType, env_var_name

GrantLookup = Callable[[StepContext, ProvisioningSettings], Awaitable[list[Grant]]]
Deliver = Callable[
    [StepContext, str, StoredSecret, StoredSecret | None, creds.Report], Awaitable[None]
]
_SUPPORTED = {DatabaseType.MONGODB.value, DatabaseType.REDIS.value}


async def registry_grants(ctx: StepContext, settings: ProvisioningSettings) -> list[Grant]:
    return await approved_grants(settings, consumer=ctx.name, environment=ctx.environment)


@dataclass(frozen=True, slots=True)
class _Credential:
    """The user of one grant, as this reconcile issues it."""

    grant: Grant
    user: str
    password: str
    is_new: bool
    """No password was issued before (or a rotation is due): set this one."""
    key: str
    """The environment variable of the connection string."""
    before: dict[str, Any] | None
    """What the Secret recorded of this grant last time."""

    @property
    def read_only(self) -> bool:
        return self.grant.access == Access.READ_ONLY.value


def grant_key(grant: Grant) -> str:
    return f"{grant.resource}:{grant.owner}:{grant.database or ''}"


class Grants:
    def __init__(
        self,
        settings: ProvisioningSettings,
        *,
        store: SecretStore,
        mongo: MongoCommands | None,
        redis: RedisAcl | None,
        lookup: GrantLookup,
        deliver: Deliver,
    ) -> None:
        self._settings = settings
        self._store = store
        self._mongo = mongo
        self._redis = redis
        self._lookup = lookup
        self._deliver = deliver

    async def ensure(self, ctx: StepContext, report: creds.Report) -> None:
        name = creds.secret_name(ctx.name, "grants")
        current = await self._store.read(ctx.namespace, name)
        recorded = _recorded(current)
        try:
            approved = await self._lookup(ctx, self._settings)
        except RegistryUnavailable:
            report.warnings.append("Grants not refreshed: the registry is unreachable.")
            if current is not None:
                ctx.secret_refs.append(name)
            return
        wanted = {grant_key(g): g for g in approved if g.resource in _SUPPORTED}
        for grant in approved:
            if grant.resource not in _SUPPORTED:
                report.notes.append(f"{grant.resource} grant from {grant.owner} (not supported)")

        # Revoked grants first: a changed grant may reuse the same user name.
        for key, (grant, _) in recorded.items():
            if key not in wanted:
                await self._drop(ctx, grant)
                report.changed = True
        if not wanted:
            if current is not None:
                await self._store.delete(ctx.namespace, name)
                report.changed = True
            return

        request = _rotation_request(ctx.annotations)
        rotate = current is not None and current.annotations.get(creds.ROTATED, "") != request
        data: dict[str, str] = {}
        held: list[dict[str, Any]] = []
        for key, grant in sorted(wanted.items()):
            entry = await self._ensure_grant(ctx, grant, current, recorded, rotate, data, report)
            if entry is not None:
                held.append({**entry, "key": key})
        annotations = {creds.ROTATED: request, creds.GRANTS: json.dumps(held, sort_keys=True)}
        await self._deliver(ctx, name, StoredSecret(data, annotations), current, report)

    async def remove(self, ctx: StepContext) -> None:
        name = creds.secret_name(ctx.name, "grants")
        current = await self._store.read(ctx.namespace, name)
        for grant, _ in _recorded(current).values():
            await self._drop(ctx, grant)
        await self._store.delete(ctx.namespace, name)

    async def _ensure_grant(
        self,
        ctx: StepContext,
        grant: Grant,
        current: StoredSecret | None,
        recorded: dict[str, tuple[Grant, dict[str, Any]]],
        rotate: bool,
        data: dict[str, str],
        report: creds.Report,
    ) -> dict[str, Any] | None:
        """Make the user of one grant; add its keys to ``data``; its record, or ``None``."""
        before = recorded.get(grant_key(grant))
        known = None
        if current is not None and before is not None and not rotate:
            known = creds.password_in(current.data.get(before[1].get("env", "")))
        credential = _Credential(
            grant=grant,
            user=creds.grant_user_name(ctx.name, ctx.environment, grant.owner),
            password=known or creds.new_password(),
            is_new=known is None,
            key=_uri_key(grant, data),
            before=before[1] if before else None,
        )
        if grant.resource == DatabaseType.MONGODB.value:
            return await self._mongo_grant(ctx, credential, data, report)
        return await self._redis_grant(ctx, credential, data, report)

    async def _mongo_grant(
        self, ctx: StepContext, credential: _Credential, data: dict[str, str], report: creds.Report
    ) -> dict[str, Any] | None:
        grant, settings = credential.grant, self._settings
        if self._mongo is None:
            report.notes.append(f"grant from {grant.owner}: MongoDB is not configured here")
            return None
        database = grant.database or creds.user_name(grant.owner, ctx.environment)
        role: Role = "read" if credential.read_only else "readWrite"
        user = MongoUser(database, credential.user, role)
        if await asyncio.to_thread(
            ensure_user, self._mongo, user,
            password=credential.password, reset_password=credential.is_new,
        ):  # fmt: skip
            report.changed = True
        data[credential.key] = creds.mongo_uri(
            credential.user, credential.password, host=settings.mongodb_host,
            database=database, options=settings.mongodb_options,
        )  # fmt: skip
        report.delivered.append(
            f"{grant.access} grant on {grant.owner}'s {database} ({credential.key})"
        )
        return {**_record(grant), "env": credential.key}

    async def _redis_grant(
        self, ctx: StepContext, credential: _Credential, data: dict[str, str], report: creds.Report
    ) -> dict[str, Any] | None:
        grant, settings = credential.grant, self._settings
        if self._redis is None:
            report.notes.append(f"grant from {grant.owner}: Redis is not configured here")
            return None
        prefix = creds.key_prefix(grant.owner, ctx.environment)
        user = RedisUser(credential.user, prefix, read_only=credential.read_only)
        fingerprint = user.fingerprint(db=settings.redis_db)
        unchanged = (
            not credential.is_new
            and (credential.before or {}).get("rules") == fingerprint
            and await self._redis.matches(user, credential.password)
        )
        if not unchanged:
            await self._redis.ensure(user, credential.password)
            report.changed = True
        data[credential.key] = creds.redis_url(
            credential.user, credential.password, host=settings.redis_host, db=settings.redis_db
        )
        data[env_var_name(grant.owner, "REDIS_KEY_PREFIX")] = prefix
        report.delivered.append(f"{grant.access} grant on {grant.owner}'s Redis ({credential.key})")
        return {**_record(grant), "env": credential.key, "rules": fingerprint}

    async def _drop(self, ctx: StepContext, grant: Grant) -> None:
        user = creds.grant_user_name(ctx.name, ctx.environment, grant.owner)
        if grant.resource == DatabaseType.MONGODB.value and self._mongo is not None:
            database = grant.database or creds.user_name(grant.owner, ctx.environment)
            await asyncio.to_thread(drop_user, self._mongo, MongoUser(database, user))
        elif grant.resource == DatabaseType.REDIS.value and self._redis is not None:
            await self._redis.delete(user)


def _uri_key(grant: Grant, taken: dict[str, str]) -> str:
    if grant.resource == DatabaseType.REDIS.value:
        return env_var_name(grant.owner, "REDIS_URL")
    key = env_var_name(grant.owner, "MONGODB_URI")
    if key in taken and grant.database:
        key = env_var_name(f"{grant.owner}-{grant.database}", "MONGODB_URI")
    return key


def _rotation_request(annotations: dict[str, str]) -> str:
    parts = [creds.rotation_request(annotations, kind) for kind in ("mongodb", "redis")]
    return "/".join(parts) if any(parts) else ""


def _record(grant: Grant) -> dict[str, Any]:
    return {
        "resource": grant.resource,
        "owner": grant.owner,
        "database": grant.database,
        "access": grant.access,
    }


def _recorded(secret: StoredSecret | None) -> dict[str, tuple[Grant, dict[str, Any]]]:
    """The grants a Secret holds users for, by key, with their bookkeeping."""
    if secret is None:
        return {}
    try:
        entries = json.loads(secret.annotations.get(creds.GRANTS, "[]"))
    except ValueError:
        return {}
    found: dict[str, tuple[Grant, dict[str, Any]]] = {}
    for entry in entries:
        grant = Grant(entry["owner"], entry["resource"], entry.get("database"), entry["access"])
        found[grant_key(grant)] = (grant, entry)
    return found
