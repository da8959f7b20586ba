"""MongoDB's user management, emulated in memory, for machines without a server.

``TAWA_MONGODB_ADMIN_URI=memory://`` selects it (the local platform does). It
answers the commands :mod:`tawa.operator.mongo_users` sends — ``usersInfo``,
``createUser``, ``updateUser``, ``dropUser``, ``dropDatabase`` — with the error
codes a real server uses, so the databases step runs its real logic end to
end. It keeps no data and serves no connections: the connection strings it
leads to point at ``TAWA_MONGODB_HOST`` as usual. State lasts as long as the
operator process; after a restart, users are re-created from their Secrets.
"""

from __future__ import annotations

from typing import Any

from pymongo.errors import OperationFailure

MEMORY_URI = "memory://"
_USER_NOT_FOUND = 11
_USER_EXISTS = 51003


class InMemoryMongoUsers:
    """A :class:`~tawa.operator.mongo_users.MongoCommands` kept in a dict."""

    def __init__(self) -> None:
        self.users: dict[tuple[str, str], dict[str, Any]] = {}
        self.dropped: list[str] = []

    def command(self, database: str, document: dict[str, Any]) -> dict[str, Any]:
        verb = next(iter(document))
        name = document[verb]
        key = (database, name)
        if verb == "usersInfo":
            if name == 1:  # every user of the database
                every = [(u, info) for (db, u), info in self.users.items() if db == database]
                listed = [{"user": u, "db": database, "roles": i["roles"]} for u, i in every]
                return {"users": listed, "ok": 1.0}
            user = self.users.get(key)
            found = [{"user": name, "db": database, "roles": user["roles"]}] if user else []
            return {"users": found, "ok": 1.0}
        if verb == "createUser":
            if key in self.users:
                raise OperationFailure(f"User {name}@{database} already exists", code=_USER_EXISTS)
            self.users[key] = {"pwd": document["pwd"], "roles": document["roles"]}
        elif verb == "updateUser":
            if key not in self.users:
                raise OperationFailure(f"User {name}@{database} not found", code=_USER_NOT_FOUND)
            self.users[key].update({k: document[k] for k in ("pwd", "roles") if k in document})
        elif verb == "dropUser":
            if self.users.pop(key, None) is None:
                raise OperationFailure(f"User {name}@{database} not found", code=_USER_NOT_FOUND)
        elif verb == "dropDatabase":
            self.dropped.append(database)
        else:
            raise OperationFailure(f"no such command: {verb!r}", code=59)
        return {"ok": 1.0}
