"""MongoDB users for services, through MongoDB's user management commands.

Each user is defined in the database it may use, so a connection string's
path is also its authentication source: ``mongodb://user:pw@host/my-api-prod``.
A service's own user has ``readWrite`` on its database; a consumer granted
another service's database gets ``{consumer}-{env}.{owner}`` there with
``read`` or ``readWrite``.

Commands go through :class:`MongoCommands`, one method wide, so that tests
can record the exact command documents (no in-process engine implements user
management). Calls are synchronous (pymongo); the step runs them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import pymongo
from pymongo.errors import OperationFailure, PyMongoError

from tawa.errors import UpstreamError

Role = Literal["read", "readWrite"]
_USER_NOT_FOUND = 11


class MongoUnavailable(UpstreamError):
    code = "mongodb_unavailable"


class MongoCommands(Protocol):
    def command(self, database: str, document: dict[str, Any]) -> dict[str, Any]: ...


class PymongoCommands:
    """:class:`MongoCommands` on a real server, with an admin connection."""

    def __init__(self, uri: str) -> None:
        self._client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            uri, serverSelectionTimeoutMS=5000
        )

    def command(self, database: str, document: dict[str, Any]) -> dict[str, Any]:
        # The command name must come first: dicts keep insertion order.
        result: dict[str, Any] = self._client[database].command(document)
        return result

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True, slots=True)
class MongoUser:
    database: str
    name: str
    role: Role = "readWrite"

    @property
    def roles(self) -> list[dict[str, str]]:
        return [{"role": self.role, "db": self.database}]


def ensure_user(
    commands: MongoCommands, user: MongoUser, *, password: str, reset_password: bool
) -> bool:
    """Create ``user`` with ``password``, or bring an existing one's roles in line.

    An existing user keeps its password unless ``reset_password`` (a new or
    rotated credential). Returns whether anything was written.
    """
    found = _find(commands, user)
    if found is None:
        document = {"createUser": user.name, "pwd": password, "roles": user.roles}
        _run(commands, user.database, document)
        return True
    update: dict[str, Any] = {"updateUser": user.name}
    if reset_password:
        update["pwd"] = password
    if _roles(found) != _roles({"roles": user.roles}):
        update["roles"] = user.roles
    if len(update) == 1:
        return False
    _run(commands, user.database, update)
    return True


def users_of(commands: MongoCommands, database: str) -> list[str]:
    """The names of every user defined in ``database``."""
    answer = _run(commands, database, {"usersInfo": 1})
    return sorted(str(u.get("user")) for u in answer.get("users", []))


def drop_user(commands: MongoCommands, user: MongoUser) -> bool:
    """Remove ``user``; a user already gone is not an error."""
    try:
        commands.command(user.database, {"dropUser": user.name})
    except OperationFailure as error:
        if error.code == _USER_NOT_FOUND:
            return False
        raise MongoUnavailable(
            f"MongoDB refused dropUser on {user.database}: {error.code}."
        ) from error
    except PyMongoError as error:
        raise _unavailable(error) from error
    return True


def drop_database(commands: MongoCommands, database: str) -> None:
    _run(commands, database, {"dropDatabase": 1})


def _find(commands: MongoCommands, user: MongoUser) -> dict[str, Any] | None:
    answer = _run(commands, user.database, {"usersInfo": user.name})
    users: list[dict[str, Any]] = answer.get("users", [])
    return users[0] if users else None


def _roles(user: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["role"], r["db"]) for r in user.get("roles", [])}


def _run(commands: MongoCommands, database: str, document: dict[str, Any]) -> dict[str, Any]:
    try:
        return commands.command(database, document)
    except OperationFailure as error:
        # Never echo the document: createUser and updateUser carry a password.
        verb = next(iter(document))
        raise MongoUnavailable(
            f"MongoDB refused {verb} on {database}: code {error.code}."
        ) from error
    except PyMongoError as error:
        raise _unavailable(error) from error


def _unavailable(error: PyMongoError) -> MongoUnavailable:
    return MongoUnavailable(f"MongoDB is unreachable: {type(error).__name__}.")
