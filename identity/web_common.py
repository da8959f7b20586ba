"""Request helpers shared by the identity routers: the backend, the session
cookie, and safe "next" targets."""

from __future__ import annotations

from fastapi import Request, Response

from tawa.identity import sessions
from tawa.identity.core import Backend
from tawa.identity.errors import LoginRequired

MAX_FIELD = 4096


def backend_of(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


def session_of(request: Request, *, allow_mfa_pending: bool = False) -> sessions.Session | None:
    backend = backend_of(request)
    session = sessions.load(backend, request.cookies.get(backend.settings.cookie_name))
    if session is None or (session.mfa_pending and not allow_mfa_pending):
        return None
    return session


def require_session(request: Request) -> sessions.Session:
    session = session_of(request)
    if session is None:
        raise LoginRequired("sign in first")
    return session


def set_session_cookie(request: Request, response: Response, raw: str) -> None:
    settings = backend_of(request).settings
    response.set_cookie(
        settings.cookie_name,
        raw,
        max_age=settings.session_absolute_seconds,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    settings = backend_of(request).settings
    response.delete_cookie(
        settings.cookie_name, httponly=True, secure=settings.cookie_secure, samesite="lax", path="/"
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def safe_next(target: str | None) -> str:
    """A same-site path to go to after login; anything else becomes /account."""
    if (
        target
        and target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and len(target) < 4096
    ):
        return target
    return "/account"
