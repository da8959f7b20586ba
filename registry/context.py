"""What every router of the registry reaches through the request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from tawa.registry.changes import ChangeLog, Publisher
from tawa.registry.settings import RegistrySettings


@dataclass
class Registry:
    settings: RegistrySettings
    db: Any
    """The pymongo (or in-process) database holding every collection."""
    changes: ChangeLog
    publisher: Publisher

    def record(self, *, kind: str, op: str, **fields: Any) -> dict[str, Any]:
        """Take the next version and log a change; call with ``changes.lock`` held."""
        version = self.changes.next_version()
        return self.changes.append(version, kind=kind, op=op, **fields)


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry
