"""Redis ACL users against a real redis-server: each service is fenced to its prefix."""

from __future__ import annotations

import uuid

import pytest
import redis
from pydantic import SecretStr

from tawa.operator.provisioning_settings import ProvisioningSettings
from tawa.operator.redis_acl import RedisAcl
from tawa.operator.registry_reads import Grant
from tawa.operator.steps.databases import DatabasesStep
from tests.operator_steps.conftest import FakeSecrets, make_ctx, make_spec

pytestmark = pytest.mark.integration


class CountingAcl(RedisAcl):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setusers = 0

    async def ensure(self, user, password):
        self.setusers += 1
        await super().ensure(user, password)


@pytest.fixture
def settings(redis_srv):
    return ProvisioningSettings(
        redis_admin_url=SecretStr(redis_srv.url), redis_host=f"127.0.0.1:{redis_srv.port}"
    )


@pytest.fixture
async def acl(redis_srv):
    admin = CountingAcl.from_url(redis_srv.url)
    yield admin
    await admin.close()


def unique(stem):
    return f"{stem}-{uuid.uuid4().hex[:6]}"


def redis_spec(name, **fields):
    return make_spec(name, databases=[{"type": "redis"}], **fields)


def step(settings, secrets, acl, *grants):
    async def lookup(ctx, settings):
        return list(grants)

    return DatabasesStep(settings, secrets=secrets, redis=acl, grants=lookup)


async def provision(settings, secrets, acl, name, *grants):
    ctx = make_ctx(redis_spec(name))
    outcome = await step(settings, secrets, acl, *grants).ensure(ctx)
    assert outcome.ok, outcome.message
    return ctx


def connect(secrets, namespace, secret, key="REDIS_URL"):
    return redis.Redis.from_url(secrets.data(namespace, secret)[key], socket_timeout=5)


async def test_a_service_uses_its_own_keys_and_channels_only(settings, acl, redis_srv):
    secrets = FakeSecrets()
    mine, theirs = unique("orders"), unique("billing")
    await provision(settings, secrets, acl, mine)
    await provision(settings, secrets, acl, theirs)
    own = connect(secrets, f"{mine}-prod", f"{mine}-db-redis")
    prefix = secrets.data(f"{mine}-prod", f"{mine}-db-redis")["REDIS_KEY_PREFIX"]
    assert prefix == f"{mine}-prod:"

    own.set(f"{prefix}cart", "3")
    assert own.get(f"{prefix}cart") == b"3"
    own.publish(f"{prefix}events", "hello")
    with pytest.raises(redis.exceptions.NoPermissionError):
        own.get(f"{theirs}-prod:cart")
    with pytest.raises(redis.exceptions.NoPermissionError):
        own.set(f"{theirs}-prod:cart", "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        own.publish(f"{theirs}-prod:events", "x")
    pubsub = own.pubsub()
    pubsub.subscribe(f"{prefix}events")
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    pubsub.subscribe(f"{theirs}-prod:events")
    with pytest.raises(redis.exceptions.NoPermissionError):
        pubsub.get_message(timeout=2)  # the refusal is the next reply
    pubsub.close()
    for command in (["FLUSHALL"], ["KEYS", "*"], ["CONFIG", "GET", "*"], ["SCAN", "0"]):
        with pytest.raises(redis.exceptions.NoPermissionError):
            own.execute_command(*command)
    own.close()


async def test_an_unchanged_service_sets_no_acl_and_writes_no_secret(settings, acl):
    secrets, name = FakeSecrets(), unique("quiet")
    await provision(settings, secrets, acl, name)
    acl.setusers, secrets.writes = 0, []

    ctx = await provision(settings, secrets, acl, name)

    assert (acl.setusers, secrets.writes) == (0, [])
    assert ctx.secret_refs == [f"{name}-db-redis"]


async def test_rotation_replaces_the_password(settings, acl):
    secrets, name = FakeSecrets(), unique("rotating")
    await provision(settings, secrets, acl, name)
    before = connect(secrets, f"{name}-prod", f"{name}-db-redis")
    ctx = make_ctx(redis_spec(name), annotations={"tawa.insureco.io/rotate-credentials": "1"})

    await step(settings, secrets, acl).ensure(ctx)

    with pytest.raises(redis.exceptions.AuthenticationError):
        before.ping()
    after = connect(secrets, f"{name}-prod", f"{name}-db-redis")
    assert after.ping()
    before.close()
    after.close()


async def test_a_read_only_grant_reads_but_cannot_write(settings, acl, redis_srv):
    secrets = FakeSecrets()
    owner, consumer = unique("catalog"), unique("shop")
    await provision(settings, secrets, acl, owner)
    writer = connect(secrets, f"{owner}-prod", f"{owner}-db-redis")
    writer.set(f"{owner}-prod:price", "10")

    grant = Grant(owner=owner, resource="redis", database=None, access="readOnly")
    await provision(settings, secrets, acl, consumer, grant)
    stem = owner.upper().replace("-", "_")
    reader = connect(secrets, f"{consumer}-prod", f"{consumer}-db-grants", f"{stem}_REDIS_URL")

    assert reader.get(f"{owner}-prod:price") == b"10"
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.set(f"{owner}-prod:price", "0")
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.delete(f"{owner}-prod:price")
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.get(f"{consumer}-prod:anything")

    # Revoking the grant removes the user.
    await provision(settings, secrets, acl, consumer)
    with pytest.raises(redis.exceptions.AuthenticationError):
        reader.ping()
    writer.close()
    reader.close()


@pytest.mark.parametrize(("policy", "kept"), [("Retain", 3), ("Delete", 0)])
async def test_remove_keeps_keys_unless_the_policy_deletes(settings, acl, redis_srv, policy, kept):
    secrets, name = FakeSecrets(), unique("leaving")
    spec = redis_spec(name, deletion_policy=policy)
    await step(settings, secrets, acl).ensure(make_ctx(spec))
    client = connect(secrets, f"{name}-prod", f"{name}-db-redis")
    for index in range(3):
        client.set(f"{name}-prod:k{index}", index)
    client.close()
    admin = redis.Redis.from_url(redis_srv.url)
    admin.set(f"{name}-prodx:neighbour", "stays")

    await step(settings, secrets, acl).remove(make_ctx(spec))

    assert len(admin.keys(f"{name}-prod:*")) == kept
    assert admin.get(f"{name}-prodx:neighbour") == b"stays"
    assert admin.execute_command("ACL", "GETUSER", f"{name}-prod") is None
    assert secrets.items == {}
    admin.close()


async def test_the_admin_connection_survives_a_redis_restart() -> None:
    # redis.asyncio reuses pooled connections a restarted server closed; the
    # first command after the restart must still go through.
    from tests.harness.redis_server import redis_server

    with redis_server() as server:
        admin = RedisAcl.from_url(server.url)
        user = unique("restarted")
        await admin.delete(user)
        server.start_again()
        await admin.delete(user)
        await admin.close()
