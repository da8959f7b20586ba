"""Databases step: per-service credentials, delivered as Secrets.

For each entry of ``spec.databases`` the step makes sure the service has its
own user (MongoDB: ``readWrite`` on ``{service}-{env}`` or the given name;
Redis: an ACL user confined to ``{service}-{env}:``) and a Secret holding the
connection string; for each approved grant in the registry, a user on the
owner's data (see :mod:`tawa.operator.db_grants`). Names and keys follow
:mod:`tawa.operator.db_credentials`.

Idempotence: a password is read back from the Secret the step wrote before;
a new one is generated only when that Secret is missing or a rotation is
requested, so an unchanged service costs reads only. A rotation updates the
user and the Secret; pods read the Secret at start, so they use the new
password from the next rollout on (``ctx.facts["secret_checksums"]`` lets the
release step force one). The old password stops working at once: rotate
before a deploy, or restart the service right after.

Deletion keeps data unless ``spec.deletionPolicy`` is ``Delete``: users and
Secrets always go; databases and Redis keys only then.

Neo4j: this installation either has no Neo4j server (the condition is False
with reason ``Neo4jUnavailable``, which stops the pipeline: a service that
needs a database it cannot have must not start), or has a shared one, whose
address (without credentials) is delivered as ``NEO4J_URI``.

TODO: per-service Neo4j users (needs a Neo4j driver and Enterprise roles);
until then services share the server's access rules.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

import kopf

from tawa.errors import TawaError
from tawa.operator import db_credentials as creds
from tawa.operator.db_credentials import Report
from tawa.operator.db_grants import GrantLookup, Grants, registry_grants
from tawa.operator.kube_secrets import KubeSecrets, Owner, SecretStore, StoredSecret
from tawa.operator.mongo_memory import MEMORY_URI, InMemoryMongoUsers
from tawa.operator.mongo_users import (
    MongoCommands,
    MongoUser,
    PymongoCommands,
    drop_database,
    drop_user,
    ensure_user,
    users_of,
)
from tawa.operator.provisioning_settings import provisioning_settings
from tawa.operator.redis_acl import RedisAcl, RedisUser
from tawa.operator.step import Outcome, StepContext
from tawa.resource import DatabaseType, DeletionPolicy, Environment


@dataclass(frozen=True, slots=True)
class MongoEntry:
    database: str
    key: str


class DatabasesStep:
    name: ClassVar[str] = "databases"
    condition: ClassVar[str] = "DatabasesReady"

    def __init__(
        self,
        settings: Any,
        *,
        secrets: SecretStore | None = None,
        mongo: MongoCommands | None = None,
        redis: RedisAcl | None = None,
        grants: GrantLookup = registry_grants,
    ) -> None:
        self._settings = provisioning_settings(settings)
        self._kubeconfig: str | None = getattr(settings, "kubeconfig", None)
        self._secrets = secrets
        self._mongo = mongo
        self._redis = redis
        self._grant_lookup = grants

    async def ensure(self, ctx: StepContext) -> Outcome:
        entries = mongo_entries(ctx)
        kinds = {d.type for d in ctx.spec.databases}
        report = Report()
        if entries and self._settings.mongodb_admin_uri.get_secret_value() == MEMORY_URI:
            report.warnings.append(
                "MongoDB users are emulated in memory (TAWA_MONGODB_ADMIN_URI=memory://): "
                "no MongoDB server holds this service's data."
            )
        try:
            await self._ensure_mongodb(ctx, entries, report)
            await self._ensure_redis(ctx, DatabaseType.REDIS in kinds, report)
            await self._grants().ensure(ctx, report)
            neo4j_ready = await self._ensure_neo4j(ctx, DatabaseType.NEO4J in kinds, report)
        except TawaError as error:
            # The pipeline adds "retrying in N s" to the condition; the delay says N.
            raise kopf.TemporaryError(error.message, delay=self._settings.retry_delay) from error
        return _outcome(report, neo4j_ready=neo4j_ready)

    async def remove(self, ctx: StepContext) -> None:
        purge = ctx.spec.deletion_policy == DeletionPolicy.DELETE
        try:
            await self._remove_mongodb(ctx, purge=purge)
            await self._remove_redis(ctx, purge=purge)
            await self._grants().remove(ctx)
            await self._store().delete(ctx.namespace, creds.secret_name(ctx.name, "neo4j"))
        except TawaError as error:
            raise kopf.TemporaryError(
                f"{error.message} Credentials not yet removed; retrying.",
                delay=self._settings.retry_delay,
            ) from error

    # --- MongoDB ------------------------------------------------------------------------------

    async def _ensure_mongodb(
        self, ctx: StepContext, entries: list[MongoEntry], report: Report
    ) -> None:
        name = creds.secret_name(ctx.name, "mongodb")
        current = await self._store().read(ctx.namespace, name)
        if not entries:
            if current is not None:
                await self._remove_mongodb(ctx, purge=False)
                report.changed = True
            return
        admin = self._mongo_admin()
        if admin is None:
            report.notes.append("MongoDB is not configured here (TAWA_MONGODB_ADMIN_URI)")
            return

        request = creds.rotation_request(ctx.annotations, "mongodb")
        rotate = current is not None and current.annotations.get(creds.ROTATED, "") != request
        user = creds.user_name(ctx.name, ctx.environment)
        data: dict[str, str] = {}
        for entry in entries:
            await self._check_owner(ctx, admin, entry.database)
            # By database, not by key: a key may now name another database.
            known = None
            if current is not None and not rotate:
                issued = list(current.data.values())
                known = creds.issued_mongo_password(issued, user=user, database=entry.database)
            password = known or creds.new_password()
            mongo_user = MongoUser(entry.database, user, "readWrite")
            if await asyncio.to_thread(
                ensure_user, admin, mongo_user, password=password, reset_password=known is None
            ):
                report.changed = True
            data[entry.key] = self._mongo_uri(user, password, entry.database)
            report.delivered.append(f"MongoDB {entry.database} ({entry.key})")

        # Databases dropped from the spec lose their user; their data stays.
        for database in _recorded(current, creds.DATABASES) - {e.database for e in entries}:
            await asyncio.to_thread(drop_user, admin, MongoUser(database, user))
            report.changed = True

        annotations = {
            creds.ROTATED: request,
            creds.DATABASES: ",".join(e.database for e in entries),
        }
        await self._deliver(ctx, name, StoredSecret(data, annotations), current, report)

    async def _check_owner(self, ctx: StepContext, admin: MongoCommands, database: str) -> None:
        """``kopf.PermanentError`` when ``database`` holds another service's own user.

        Naming a database gave readWrite on any service's data, and a deletion
        with ``deletionPolicy: Delete`` dropped it. Access to another service's
        database goes through a scope grant; its users (``{consumer}-{env}.{owner}``)
        and this service's users in other environments are not owners.
        """
        if database == creds.user_name(ctx.name, ctx.environment):
            return  # its own default database: the name holds the service's name
        owners = await _other_owners(ctx, admin, database)
        if owners:
            raise kopf.PermanentError(
                f"spec.databases: MongoDB database {database!r} belongs to {owners[0]!r};"
                " name another database, or ask its owner for access with a scope grant"
            )

    async def _remove_mongodb(self, ctx: StepContext, *, purge: bool) -> None:
        name = creds.secret_name(ctx.name, "mongodb")
        current = await self._store().read(ctx.namespace, name)
        recorded = _recorded(current, creds.DATABASES)
        databases = recorded | {e.database for e in mongo_entries(ctx)}
        admin = self._mongo_admin()
        if admin is not None and (current is not None or purge):
            user = creds.user_name(ctx.name, ctx.environment)
            # Only data this service was given is dropped: a database the spec
            # names but the step never provisioned may be another service's.
            owned = recorded | {user}
            for database in sorted(databases):
                await asyncio.to_thread(drop_user, admin, MongoUser(database, user))
                if purge and database in owned and not await _other_owners(ctx, admin, database):
                    await asyncio.to_thread(drop_database, admin, database)
        await self._store().delete(ctx.namespace, name)

    # --- Redis --------------------------------------------------------------------------------

    async def _ensure_redis(self, ctx: StepContext, wanted: bool, report: Report) -> None:
        name = creds.secret_name(ctx.name, "redis")
        current = await self._store().read(ctx.namespace, name)
        if not wanted:
            if current is not None:
                await self._remove_redis(ctx, purge=False)
                report.changed = True
            return
        acl = self._redis_admin()
        if acl is None:
            report.notes.append("Redis is not configured here (TAWA_REDIS_ADMIN_URL)")
            return

        settings = self._settings
        user = RedisUser(
            creds.user_name(ctx.name, ctx.environment), creds.key_prefix(ctx.name, ctx.environment)
        )
        request = creds.rotation_request(ctx.annotations, "redis")
        rotate = current is not None and current.annotations.get(creds.ROTATED, "") != request
        known = _issued_password(current, "REDIS_URL", rotate=rotate)
        password = known or creds.new_password()
        fingerprint = user.fingerprint(db=settings.redis_db)
        rules_current = (
            current is not None and current.annotations.get(creds.ACL_RULES) == fingerprint
        )
        if not (known and rules_current and await acl.matches(user, password)):
            await acl.ensure(user, password)
            report.changed = True

        data = {
            "REDIS_URL": creds.redis_url(
                user.name, password, host=settings.redis_host, db=settings.redis_db
            ),
            "REDIS_KEY_PREFIX": user.prefix,
        }
        annotations = {creds.ROTATED: request, creds.ACL_RULES: fingerprint}
        await self._deliver(ctx, name, StoredSecret(data, annotations), current, report)
        report.delivered.append(f"Redis prefix {user.prefix} (REDIS_URL)")

    async def _remove_redis(self, ctx: StepContext, *, purge: bool) -> None:
        name = creds.secret_name(ctx.name, "redis")
        acl = self._redis_admin()
        if acl is not None:
            await acl.delete(creds.user_name(ctx.name, ctx.environment))
            if purge:
                removed = await acl.drop_keys(creds.key_prefix(ctx.name, ctx.environment))
                ctx.logger.info(f"Removed {removed} Redis keys of {ctx.namespace}/{ctx.name}.")
        await self._store().delete(ctx.namespace, name)

    # --- Neo4j --------------------------------------------------------------------------------

    async def _ensure_neo4j(self, ctx: StepContext, wanted: bool, report: Report) -> bool:
        name = creds.secret_name(ctx.name, "neo4j")
        uri = self._settings.neo4j_uri.get_secret_value()
        current = await self._store().read(ctx.namespace, name)
        if not wanted or not uri:
            if current is not None:
                await self._store().delete(ctx.namespace, name)
                report.changed = True
            return not wanted
        data = {"NEO4J_URI": creds.without_credentials(uri)}
        await self._deliver(ctx, name, StoredSecret(data, {}), current, report)
        report.delivered.append("Neo4j (NEO4J_URI, shared server)")
        return True

    # --- plumbing -----------------------------------------------------------------------------

    async def _deliver(
        self,
        ctx: StepContext,
        name: str,
        wanted: StoredSecret,
        current: StoredSecret | None,
        report: Report,
    ) -> None:
        """Write the Secret if it differs, and hand it to the release."""
        if current is None or current.data != wanted.data or not _has(current, wanted):
            await self._store().write(ctx.namespace, name, wanted, owner=Owner(ctx.name, ctx.uid))
            report.changed = True
        ctx.secret_refs.append(name)
        checksum = hashlib.sha256(repr(sorted(wanted.data.items())).encode()).hexdigest()
        ctx.facts.setdefault("secret_checksums", {})[name] = checksum

    def _mongo_uri(self, user: str, password: str, database: str) -> str:
        settings = self._settings
        return creds.mongo_uri(
            user,
            password,
            host=settings.mongodb_host,
            database=database,
            options=settings.mongodb_options,
        )

    def _grants(self) -> Grants:
        return Grants(
            self._settings,
            store=self._store(),
            mongo=self._mongo_admin(),
            redis=self._redis_admin(),
            lookup=self._grant_lookup,
            deliver=self._deliver,
        )

    def _store(self) -> SecretStore:
        if self._secrets is None:
            from tawa.operator.kube import api_client

            self._secrets = KubeSecrets(api_client(self._kubeconfig))
        return self._secrets

    def _mongo_admin(self) -> MongoCommands | None:
        uri = self._settings.mongodb_admin_uri.get_secret_value()
        if self._mongo is None and uri == MEMORY_URI:
            self._mongo = InMemoryMongoUsers()
        elif self._mongo is None and uri:
            self._mongo = PymongoCommands(uri)
        return self._mongo

    def _redis_admin(self) -> RedisAcl | None:
        url = self._settings.redis_admin_url.get_secret_value()
        if self._redis is None and url:
            self._redis = RedisAcl.from_url(url, db=self._settings.redis_db)
        return self._redis


async def _other_owners(ctx: StepContext, admin: MongoCommands, database: str) -> list[str]:
    """Own users of other services in ``database``: not grant users, not this service's."""
    ours = {creds.user_name(ctx.name, env.value) for env in Environment}
    users = await asyncio.to_thread(users_of, admin, database)
    return [u for u in users if u not in ours and "." not in u]


def mongo_entries(ctx: StepContext) -> list[MongoEntry]:
    """The MongoDB databases of the spec, each with its Secret key."""
    default = creds.user_name(ctx.name, ctx.environment)
    entries: list[MongoEntry] = []
    for index, database in enumerate(ctx.spec.databases):
        if database.type != DatabaseType.MONGODB:
            continue
        name = database.name or default
        if any(e.database == name for e in entries):
            raise kopf.PermanentError(
                f"spec.databases[{index}]: MongoDB database {name!r} is listed twice; "
                "give each mongodb entry a distinct name"
            )
        entries.append(MongoEntry(name, creds.mongo_key(name, first=not entries)))
    return entries


def _issued_password(current: StoredSecret | None, key: str, *, rotate: bool) -> str | None:
    """The password issued before under ``key``, unless a new one is due."""
    if rotate or current is None:
        return None
    return creds.password_in(current.data.get(key))


def _recorded(secret: StoredSecret | None, annotation: str) -> set[str]:
    if secret is None:
        return set()
    return {item for item in secret.annotations.get(annotation, "").split(",") if item}


def _has(current: StoredSecret, wanted: StoredSecret) -> bool:
    return all(current.annotations.get(k) == v for k, v in wanted.annotations.items())


def _outcome(report: Report, *, neo4j_ready: bool) -> Outcome:
    delivered = "; ".join(report.delivered) or "no database requested"
    notes = f" Not provisioned: {'; '.join(report.notes)}." if report.notes else ""
    notes += f" {' '.join(report.warnings)}" if report.warnings else ""
    if not neo4j_ready:
        message = (
            "This installation has no Neo4j server (TAWA_NEO4J_URI is not set): remove the "
            f"neo4j entry from spec.databases or ask the platform team. Ready: {delivered}.{notes}"
        )
        return Outcome(ok=False, reason="Neo4jUnavailable", message=message, changed=report.changed)
    if report.notes:
        message = f"{delivered}.{notes}"
        return Outcome(ok=False, reason="NotConfigured", message=message, changed=report.changed)
    message = f"{delivered}.{notes}"
    return Outcome(ok=True, reason="Provisioned", message=message, changed=report.changed)


STEP = DatabasesStep
