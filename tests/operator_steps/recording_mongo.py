"""MongoDB's command boundary, recorded: no in-process engine implements user management.

:class:`RecordingMongo` keeps every command document as sent and emulates the
user-management commands the operator uses (``usersInfo``, ``createUser``,
``updateUser``, ``dropUser``, ``dropDatabase``) well enough to be stateful.
"""

from __future__ import annotations

from typing import Any

from pymongo.errors import OperationFailure


class RecordingMongo:
    """MongoDB's user management commands, recorded as sent and emulated in memory."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.users: dict[tuple[str, str], dict[str, Any]] = {}
        self.dropped: list[str] = []

    def command(self, database, document):
        self.commands.append((database, dict(document)))
        verb = next(iter(document))
        name = document[verb]
        if verb == "usersInfo":
            user = self.users.get((database, name))
            found = [{"user": name, "db": database, "roles": user["roles"]}] if user else []
            return {"users": found, "ok": 1.0}
        if verb == "createUser":
            if (database, name) in self.users:
                raise OperationFailure("User already exists", code=51003)
            self.users[(database, name)] = {"pwd": document["pwd"], "roles": document["roles"]}
        elif verb == "updateUser":
            if (database, name) not in self.users:
                raise OperationFailure("User not found", code=11)
            self.users[(database, name)].update(
                {k: document[k] for k in ("pwd", "roles") if k in document}
            )
        elif verb == "dropUser":
            if self.users.pop((database, name), None) is None:
                raise OperationFailure("User not found", code=11)
        elif verb == "dropDatabase":
            self.dropped.append(database)
        return {"ok": 1.0}

    def writes(self) -> list[tuple[str, dict[str, Any]]]:
        return [(db, doc) for db, doc in self.commands if next(iter(doc)) != "usersInfo"]
