"""MongoDB user management against a real server, when ``TAWA_TEST_MONGODB_URI`` names one.

The URI must carry a user allowed to manage users and drop databases. No MongoDB
server can be installed on the build machines, so this is skipped there.
"""

from __future__ import annotations

import os
import uuid

import pymongo
import pytest
from pymongo.errors import OperationFailure

from tawa.operator.mongo_users import (
    MongoUser,
    PymongoCommands,
    drop_database,
    drop_user,
    ensure_user,
)

URI = os.environ.get("TAWA_TEST_MONGODB_URI")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not URI, reason="TAWA_TEST_MONGODB_URI is not set"),
]


def login(uri: str, user: str, password: str, database: str) -> pymongo.MongoClient:
    parts = uri.split("://", 1)[1].split("@")[-1].split("/")[0]
    return pymongo.MongoClient(f"mongodb://{user}:{password}@{parts}/{database}",
                               serverSelectionTimeoutMS=3000)  # fmt: skip


def test_users_are_created_rotated_limited_and_dropped():
    admin = PymongoCommands(URI)
    database = f"tawa-test-{uuid.uuid4().hex[:8]}"
    own = MongoUser(database, "svc-prod", "readWrite")
    reader = MongoUser(database, "other-prod.svc", "read")
    try:
        assert ensure_user(admin, own, password="first-pass", reset_password=True)
        assert not ensure_user(admin, own, password="first-pass", reset_password=False)
        ensure_user(admin, reader, password="read-pass", reset_password=True)

        login(URI, own.name, "first-pass", database)[database].items.insert_one({"a": 1})
        readonly = login(URI, reader.name, "read-pass", database)[database]
        assert readonly.items.count_documents({}) == 1
        with pytest.raises(OperationFailure):
            readonly.items.insert_one({"b": 2})

        assert ensure_user(admin, own, password="second-pass", reset_password=True)
        with pytest.raises(OperationFailure):
            login(URI, own.name, "first-pass", database)[database].items.find_one()
        assert drop_user(admin, own)
        assert not drop_user(admin, own)
    finally:
        drop_user(admin, reader)
        drop_database(admin, database)
        admin.close()


async def test_the_delivered_uri_works_and_is_fenced_to_its_database():
    from urllib.parse import urlsplit

    from pydantic import SecretStr

    from tawa.operator.provisioning_settings import ProvisioningSettings
    from tawa.operator.steps.databases import DatabasesStep
    from tests.operator_steps.conftest import FakeSecrets, make_ctx, make_spec

    async def no_grants(ctx, settings):
        return []

    name = f"t{uuid.uuid4().hex[:8]}"
    settings = ProvisioningSettings(
        mongodb_admin_uri=SecretStr(URI), mongodb_host=urlsplit(URI).netloc.split("@")[-1]
    )
    secrets = FakeSecrets()
    spec = make_spec(name, databases=[{"type": "mongodb"}], deletion_policy="Delete")
    step = DatabasesStep(settings, secrets=secrets, grants=no_grants)
    try:
        assert (await step.ensure(make_ctx(spec))).ok
        uri = secrets.data(f"{name}-prod", f"{name}-db-mongodb")["MONGODB_URI"]
        service = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
        service.get_default_database().items.insert_one({"ok": True})
        with pytest.raises(OperationFailure):
            service["admin"].list_collection_names()
        service.close()
    finally:
        await step.remove(make_ctx(spec))
