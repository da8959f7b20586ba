"""Assembles the identity service: backend, routers, error handlers."""

from __future__ import annotations

from pathlib import Path

import redis
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.templating import Jinja2Templates

from tawa.identity import web_admin, web_api, web_oauth, web_pages
from tawa.identity.core import Backend
from tawa.identity.errors import OAuthError
from tawa.identity.mail import OutboxSender, Sender
from tawa.identity.settings import IdentitySettings
from tawa.store import mongo_client
from tawa.web import create_app, internal_key_dependency


def build_backend(
    settings: IdentitySettings, *, sender: Sender | None = None, db: object = None
) -> Backend:
    if db is None:
        db = mongo_client(settings.mongodb_uri)[settings.mongodb_database]
    backend = Backend(
        settings=settings,
        db=db,
        redis=redis.Redis.from_url(settings.redis_url, socket_timeout=5),
        sender=sender or OutboxSender(settings.outbox_path),
    )
    backend.prepare()
    return backend


def build_app(
    settings: IdentitySettings | None = None, *, backend: Backend | None = None
) -> FastAPI:
    settings = settings or IdentitySettings()
    backend = backend or build_backend(settings)

    def redis_ready() -> bool:
        try:
            return bool(backend.redis.ping())
        except redis.RedisError:
            return False

    app = create_app("identity", title="Bio-ID", readiness=[redis_ready, backend.database_is_up])
    app.state.backend = backend
    app.state.templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

    @app.exception_handler(OAuthError)
    async def _oauth_error(request: Request, exc: OAuthError) -> JSONResponse:
        headers = {"Cache-Control": "no-store"}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="bio-id"'
        body = {"error": exc.code, "error_description": exc.message}
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(redis.RedisError)
    async def _redis_down(request: Request, exc: redis.RedisError) -> JSONResponse:
        body = {"error": {"code": "unavailable", "message": "the session store is unavailable"}}
        return JSONResponse(body, status_code=503)

    admin = Depends(internal_key_dependency(settings.internal_key.get_secret_value()))
    app.include_router(web_oauth.router)
    app.include_router(web_pages.router)
    app.include_router(web_api.router)
    app.include_router(web_admin.router, dependencies=[admin])
    return app
