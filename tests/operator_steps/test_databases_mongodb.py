"""MongoDB provisioning, checked against the exact user-management commands sent."""

from __future__ import annotations

from urllib.parse import urlsplit

import kopf
import pytest
from pydantic import SecretStr

from tawa.operator.provisioning_settings import ProvisioningSettings
from tawa.operator.registry_reads import Grant, RegistryUnavailable
from tawa.operator.steps.databases import DatabasesStep
from tests.operator_steps.conftest import FakeSecrets, RecordingMongo, make_ctx, make_spec

NS = "my-api-prod"
SETTINGS = ProvisioningSettings(
    mongodb_admin_uri=SecretStr("mongodb://admin:admin@db.internal:27017/admin"),
    mongodb_host="db.tawa.insureco.io:27017",
)


def grants_of(*grants):
    async def lookup(ctx, settings):
        return list(grants)

    return lookup


async def _unreachable(ctx, settings):
    raise RegistryUnavailable("The registry could not be read (/v1/grants): ConnectError.")


def step(secrets, mongo, *, grants=grants_of(), settings=SETTINGS):
    return DatabasesStep(settings, secrets=secrets, mongo=mongo, grants=grants)


def mongo_spec(*databases, **fields):
    entries = [{"type": "mongodb", **d} for d in databases] or [{"type": "mongodb"}]
    return make_spec(databases=entries, **fields)


def password_of(uri):
    return urlsplit(uri).password


async def test_first_deploy_creates_the_user_and_delivers_the_uri():
    secrets, mongo = FakeSecrets(), RecordingMongo()
    ctx = make_ctx(mongo_spec())

    outcome = await step(secrets, mongo).ensure(ctx)

    uri = secrets.data(NS, "my-api-db-mongodb")["MONGODB_URI"]
    password = password_of(uri)
    assert uri == f"mongodb://my-api-prod:{password}@db.tawa.insureco.io:27017/my-api-prod"
    assert len(password) >= 32
    assert mongo.commands == [
        ("my-api-prod", {"usersInfo": "my-api-prod"}),
        ("my-api-prod", {"createUser": "my-api-prod", "pwd": password,
                         "roles": [{"role": "readWrite", "db": "my-api-prod"}]}),
    ]  # fmt: skip
    assert (outcome.ok, outcome.reason, outcome.changed) == (True, "Provisioned", True)
    assert password not in outcome.message
    assert ctx.secret_refs == ["my-api-db-mongodb"]
    assert "my-api-db-mongodb" in ctx.facts["secret_checksums"]


async def test_an_unchanged_service_only_reads():
    secrets, mongo = FakeSecrets(), RecordingMongo()
    await step(secrets, mongo).ensure(make_ctx(mongo_spec()))
    mongo.commands.clear()
    secrets.writes.clear()

    outcome = await step(secrets, mongo).ensure(make_ctx(mongo_spec()))

    assert mongo.writes() == []
    assert secrets.writes == []
    assert outcome.changed is False


async def test_two_databases_get_two_keys():
    secrets, mongo = FakeSecrets(), RecordingMongo()

    await step(secrets, mongo).ensure(make_ctx(mongo_spec({}, {"name": "audit-log"})))

    data = secrets.data(NS, "my-api-db-mongodb")
    assert set(data) == {"MONGODB_URI", "AUDIT_LOG_MONGODB_URI"}
    assert data["AUDIT_LOG_MONGODB_URI"].endswith("/audit-log")
    assert {db for db, _ in mongo.writes()} == {"my-api-prod", "audit-log"}


async def test_the_same_database_twice_is_a_spec_error():
    with pytest.raises(kopf.PermanentError, match=r"spec.databases\[1\]"):
        await step(FakeSecrets(), RecordingMongo()).ensure(
            make_ctx(mongo_spec({}, {"name": "my-api-prod"}))
        )


async def test_rotation_sets_a_new_password_once():
    secrets, mongo = FakeSecrets(), RecordingMongo()
    await step(secrets, mongo).ensure(make_ctx(mongo_spec()))
    old = password_of(secrets.data(NS, "my-api-db-mongodb")["MONGODB_URI"])
    mongo.commands.clear()
    rotate = {"tawa.insureco.io/rotate-mongodb": "2026-12-03T10:00:00Z"}

    outcome = await step(secrets, mongo).ensure(make_ctx(mongo_spec(), annotations=rotate))

    new = password_of(secrets.data(NS, "my-api-db-mongodb")["MONGODB_URI"])
    assert new != old
    assert mongo.writes() == [("my-api-prod", {"updateUser": "my-api-prod", "pwd": new})]
    assert outcome.changed

    mongo.commands.clear()
    secrets.writes.clear()
    await step(secrets, mongo).ensure(make_ctx(mongo_spec(), annotations=rotate))
    assert (mongo.writes(), secrets.writes) == ([], [])


async def test_a_user_removed_behind_our_back_is_recreated_with_the_same_password():
    secrets, mongo = FakeSecrets(), RecordingMongo()
    await step(secrets, mongo).ensure(make_ctx(mongo_spec()))
    password = password_of(secrets.data(NS, "my-api-db-mongodb")["MONGODB_URI"])
    mongo.users.clear()
    secrets.writes.clear()

    await step(secrets, mongo).ensure(make_ctx(mongo_spec()))

    assert mongo.users[("my-api-prod", "my-api-prod")]["pwd"] == password
    assert secrets.writes == []


async def test_a_database_dropped_from_the_spec_loses_its_user_not_its_data():
    secrets, mongo = FakeSecrets(), RecordingMongo()
    await step(secrets, mongo).ensure(make_ctx(mongo_spec({}, {"name": "audit-log"})))
    mongo.commands.clear()

    await step(secrets, mongo).ensure(make_ctx(mongo_spec()))

    assert mongo.writes() == [("audit-log", {"dropUser": "my-api-prod"})]
    assert set(secrets.data(NS, "my-api-db-mongodb")) == {"MONGODB_URI"}


@pytest.mark.parametrize(
    ("policy", "dropped"), [("Retain", []), ("Delete", ["my-api-prod", "audit-log"])]
)
async def test_remove_follows_the_deletion_policy(policy, dropped):
    secrets, mongo = FakeSecrets(), RecordingMongo()
    spec = mongo_spec({}, {"name": "audit-log"}, deletion_policy=policy)
    await step(secrets, mongo).ensure(make_ctx(spec))

    await step(secrets, mongo).remove(make_ctx(spec))

    assert mongo.users == {}
    assert sorted(mongo.dropped) == sorted(dropped)
    assert secrets.items == {}


async def test_an_approved_grant_gives_a_read_user_on_the_owners_database():
    secrets, mongo = FakeSecrets(), RecordingMongo()
    grant = Grant(owner="shared-data-svc", resource="mongodb", database="shared-data",
                  access="readOnly")  # fmt: skip

    await step(secrets, mongo, grants=grants_of(grant)).ensure(make_ctx(mongo_spec()))

    uri = secrets.data(NS, "my-api-db-grants")["SHARED_DATA_SVC_MONGODB_URI"]
    assert uri.endswith("@db.tawa.insureco.io:27017/shared-data")
    assert ("shared-data", {"createUser": "my-api-prod.shared-data-svc", "pwd": password_of(uri),
            "roles": [{"role": "read", "db": "shared-data"}]}) in mongo.writes()  # fmt: skip

    # Upgraded to readWrite: same user, same password, new role.
    upgraded = Grant("shared-data-svc", "mongodb", "shared-data", "readWrite")
    mongo.commands.clear()
    await step(secrets, mongo, grants=grants_of(upgraded)).ensure(make_ctx(mongo_spec()))
    assert mongo.writes() == [("shared-data", {"updateUser": "my-api-prod.shared-data-svc",
                               "roles": [{"role": "readWrite", "db": "shared-data"}]})]  # fmt: skip

    # Revoked: the user goes, and the Secret with it.
    mongo.commands.clear()
    await step(secrets, mongo).ensure(make_ctx(mongo_spec()))
    assert mongo.writes() == [("shared-data", {"dropUser": "my-api-prod.shared-data-svc"})]
    assert (NS, "my-api-db-grants") not in secrets.items


async def test_grants_are_kept_while_the_registry_is_unreachable():
    secrets, mongo = FakeSecrets(), RecordingMongo()
    grant = Grant("shared-data-svc", "mongodb", None, "readOnly")
    await step(secrets, mongo, grants=grants_of(grant)).ensure(make_ctx(mongo_spec()))
    mongo.commands.clear()
    ctx = make_ctx(mongo_spec())

    outcome = await step(secrets, mongo, grants=_unreachable).ensure(ctx)

    assert outcome.ok
    assert "registry is unreachable" in outcome.message
    assert mongo.writes() == []
    assert "my-api-db-grants" in ctx.secret_refs


async def test_without_an_admin_uri_the_condition_says_what_to_set():
    outcome = await step(FakeSecrets(), None, settings=ProvisioningSettings()).ensure(
        make_ctx(mongo_spec())
    )

    assert (outcome.ok, outcome.reason) == (False, "NotConfigured")
    assert "TAWA_MONGODB_ADMIN_URI" in outcome.message


@pytest.mark.parametrize(
    ("neo4j_uri", "ok", "reason"),
    [
        ("", False, "Neo4jUnavailable"),
        ("bolt://neo4j:s3cret@graph.internal:7687", True, "Provisioned"),
    ],
)
async def test_neo4j_is_delivered_only_where_a_server_is_configured(neo4j_uri, ok, reason):
    secrets = FakeSecrets()
    settings = ProvisioningSettings(neo4j_uri=SecretStr(neo4j_uri))
    spec = make_spec(databases=[{"type": "neo4j"}])

    outcome = await step(secrets, None, settings=settings).ensure(make_ctx(spec))

    assert (outcome.ok, outcome.reason) == (ok, reason)
    if ok:
        assert secrets.data(NS, "my-api-db-neo4j") == {"NEO4J_URI": "bolt://graph.internal:7687"}
    else:
        assert "TAWA_NEO4J_URI" in outcome.message


class UnreachableMongo(RecordingMongo):
    def command(self, database, document):
        from pymongo.errors import ServerSelectionTimeoutError

        raise ServerSelectionTimeoutError("db.internal:27017: timed out")


async def test_an_unreachable_server_is_waited_for_without_leaking_the_password():
    with pytest.raises(kopf.TemporaryError) as raised:
        await step(FakeSecrets(), UnreachableMongo()).ensure(make_ctx(mongo_spec()))

    assert "MongoDB is unreachable" in str(raised.value)
    assert raised.value.delay == 30


async def test_an_unreachable_redis_is_waited_for():
    from tawa.operator.redis_acl import RedisAcl
    from tests.harness.redis_server import free_port

    acl = RedisAcl.from_url(f"redis://127.0.0.1:{free_port()}/0")
    step_ = DatabasesStep(ProvisioningSettings(), secrets=FakeSecrets(), redis=acl,
                          grants=grants_of())  # fmt: skip

    with pytest.raises(kopf.TemporaryError, match="Redis failed on ACL SETUSER: ConnectionError"):
        await step_.ensure(make_ctx(make_spec(databases=[{"type": "redis"}])))
    await acl.close()


async def test_a_database_moving_to_another_key_keeps_its_password():
    secrets, mongo = FakeSecrets(), RecordingMongo()
    await step(secrets, mongo).ensure(make_ctx(mongo_spec({}, {"name": "audit-log"})))
    audit = password_of(secrets.data(NS, "my-api-db-mongodb")["AUDIT_LOG_MONGODB_URI"])

    await step(secrets, mongo).ensure(make_ctx(mongo_spec({"name": "audit-log"})))

    uri = secrets.data(NS, "my-api-db-mongodb")["MONGODB_URI"]
    assert uri.endswith("/audit-log")
    assert password_of(uri) == audit == mongo.users[("audit-log", "my-api-prod")]["pwd"]


@pytest.mark.parametrize("database", ["audit-log", "my-api-prod"])
async def test_another_services_database_cannot_be_claimed_by_naming_it(database):
    # Naming it gave a readWrite user on another service's data (and a
    # deletion with deletionPolicy Delete dropped that data).
    secrets, mongo = FakeSecrets(), RecordingMongo()
    await step(secrets, mongo).ensure(make_ctx(mongo_spec({}, {"name": "audit-log"})))
    mongo.commands.clear()

    intruder = make_ctx(make_spec("intruder", databases=[{"type": "mongodb", "name": database}]))
    with pytest.raises(kopf.PermanentError, match=rf"{database!r} belongs to 'my-api-prod'"):
        await step(secrets, mongo).ensure(intruder)

    assert mongo.writes() == []


async def test_a_named_database_is_shared_by_the_environments_of_one_service():
    secrets, mongo = FakeSecrets(), RecordingMongo()
    for environment in ("prod", "uat"):
        spec = make_spec(
            environment=environment, databases=[{"type": "mongodb", "name": "archive"}]
        )
        await step(secrets, mongo).ensure(make_ctx(spec))

    assert ("archive", "my-api-uat") in mongo.users


async def test_deleting_an_intruder_with_delete_policy_keeps_the_owners_data():
    # The intruder was refused, but its removal dropped every database its
    # spec named: the owner's data went with deletionPolicy Delete.
    secrets, mongo = FakeSecrets(), RecordingMongo()
    await step(secrets, mongo).ensure(make_ctx(mongo_spec({}, {"name": "audit-log"})))
    intruder = make_ctx(
        make_spec(
            "intruder",
            databases=[{"type": "mongodb", "name": "audit-log"}],
            deletion_policy="Delete",
        )
    )
    with pytest.raises(kopf.PermanentError):
        await step(secrets, mongo).ensure(intruder)

    await step(secrets, mongo).remove(intruder)

    assert mongo.dropped == []
    assert ("audit-log", "my-api-prod") in mongo.users
