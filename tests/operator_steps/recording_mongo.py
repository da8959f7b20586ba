"""MongoDB's command boundary, recorded: no in-process engine implements user management.

:class:`RecordingMongo` keeps every command document as sent and emulates the
user-management commands the operator uses (``usersInfo``, ``createUser``,
``updateUser``, ``dropUser``, ``dropDatabase``) well enough to be stateful.
"""

from __future__ import annotations

from typing import Any

from tawa.operator.mongo_memory import InMemoryMongoUsers


class RecordingMongo(InMemoryMongoUsers):
    """MongoDB's user management commands, recorded as sent and emulated in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def command(self, database, document):
        self.commands.append((database, dict(document)))
        return super().command(database, document)

    def writes(self) -> list[tuple[str, dict[str, Any]]]:
        return [(db, doc) for db, doc in self.commands if next(iter(doc)) != "usersInfo"]
