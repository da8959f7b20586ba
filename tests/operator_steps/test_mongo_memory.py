"""``TAWA_MONGODB_ADMIN_URI=memory://``: the emulated admin answers like a server."""

from __future__ import annotations

import pytest
from pymongo.errors import OperationFailure

from tawa.operator.mongo_memory import InMemoryMongoUsers
from tawa.operator.mongo_users import MongoUser, drop_user, ensure_user


def test_users_are_created_updated_and_dropped_like_on_a_server() -> None:
    admin = InMemoryMongoUsers()
    user = MongoUser(database="shop-sandbox", name="shop-sandbox")
    assert ensure_user(admin, user, password="first", reset_password=True) is True
    assert ensure_user(admin, user, password="first", reset_password=False) is False
    assert ensure_user(admin, user, password="second", reset_password=True) is True
    assert admin.users[("shop-sandbox", "shop-sandbox")]["pwd"] == "second"
    drop_user(admin, user)
    assert admin.users == {}


def test_unknown_commands_fail_like_a_server() -> None:
    with pytest.raises(OperationFailure, match="no such command"):
        InMemoryMongoUsers().command("admin", {"shutdown": 1})
