"""Assemble the registry's ASGI app from its routers and stores."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import Depends, FastAPI

from tawa.registry import config_values, domains, flags, grants, services
from tawa.registry.changes import ChangeLog, Publisher
from tawa.registry.context import Registry
from tawa.registry.settings import RegistrySettings
from tawa.store import is_in_memory, mongo_client
from tawa.web import create_app, internal_key_dependency


def build_app(settings: RegistrySettings | None = None, *, client: Any = None) -> FastAPI:
    """The registry app; ``client`` overrides the MongoDB client (tests)."""
    settings = settings or RegistrySettings()
    client_is_default = client is None
    client = client if client is not None else mongo_client(settings.mongodb_uri)
    db = client[settings.registry_database]
    _ensure_indexes(db)

    async def database_answers() -> bool:
        # A real MongoDB may take seconds to time out: keep that off the event loop.
        return await asyncio.to_thread(_ping, client)

    app = create_app("registry", title="Tawa registry (Koko)", readiness=[database_answers])
    publisher = Publisher(
        settings.redis_url,
        timeout=settings.registry_publish_timeout,
        metrics=app.state.metrics_registry,
    )
    changes = ChangeLog(db, retention=settings.registry_change_retention)
    if is_in_memory(settings.mongodb_uri) and client_is_default:
        # The in-process store forgets everything on restart. Counting from the
        # clock keeps versions increasing across restarts, so a gateway that
        # holds an older version takes the next notice as news and reloads.
        changes.start_at(int(time.time() * 1000))
    app.state.registry = Registry(settings=settings, db=db, changes=changes, publisher=publisher)

    internal = [Depends(internal_key_dependency(settings.internal_key.get_secret_value()))]
    for router in (
        services.router,
        config_values.router,
        flags.router,
        domains.router,
        grants.router,
    ):
        app.include_router(router, dependencies=internal)
    # Services evaluate flags without the platform's key; the answer is one boolean.
    app.include_router(flags.public_router)
    return app


def _ensure_indexes(db: Any) -> None:
    db["services"].create_index([("environment", 1), ("owner", 1)])
    db["claims"].create_index([("environment", 1), ("service", 1)])
    db["changes"].create_index([("kind", 1), ("_id", 1)])
    db["config"].create_index([("environment", 1), ("service", 1)])
    db["domains"].create_index([("service", 1), ("environment", 1)])
    db["grants"].create_index([("environment", 1), ("owner", 1), ("consumer", 1)])


def _ping(client: Any) -> bool:
    try:
        client.admin.command("ping")
    except Exception:
        return False
    return True
