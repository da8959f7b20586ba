"""The server-rendered pages: login, second factor, account (with MFA
enrolment), logout, email verification and password reset.

Forms carry a CSRF token: the login form a double-submit cookie (there is no
session yet), the others the session's own token. Pages are not framable.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tawa.identity import accounts, orgs, sessions
from tawa.identity.core import same
from tawa.identity.errors import IdentityError
from tawa.identity.web_common import (
    backend_of,
    clear_session_cookie,
    client_address,
    safe_next,
    session_of,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)
LOGIN_CSRF = "bio_login_csrf"
PAGE_HEADERS = {"X-Frame-Options": "DENY", "Cache-Control": "no-store"}


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, template, context, status_code=status, headers=PAGE_HEADERS
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str = "") -> HTMLResponse:
    csrf = secrets.token_urlsafe(16)
    response = _page(request, "login.html", next=safe_next(next), csrf=csrf, error=None)
    _set_login_csrf(request, response, csrf)
    return response


@router.post("/login", response_model=None)
def login(
    request: Request,
    email: str = Form(max_length=320),
    password: str = Form(max_length=accounts.MAX_PASSWORD),
    csrf: str = Form(max_length=64),
    next: str = Form(default="", max_length=4096),
) -> Response:
    backend = backend_of(request)
    target = safe_next(next)
    if not same(csrf, request.cookies.get(LOGIN_CSRF, "")):
        return _page(
            request, "login.html", 400, next=target, csrf=csrf, error="The form expired; try again."
        )
    try:
        user = accounts.authenticate(
            backend, email=email, password=password, address=client_address(request)
        )
    except IdentityError as exc:
        return _page(request, "login.html", exc.status, next=target, csrf=csrf, error=exc.message)

    mfa = bool(user.get("mfa", {}).get("enabled"))
    current = request.cookies.get(backend.settings.cookie_name)
    raw = sessions.start(backend, user["_id"], mfa_pending=mfa, replaces=current)
    destination = f"/mfa?{urlencode({'next': target})}" if mfa else target
    response = RedirectResponse(destination, status_code=303)
    set_session_cookie(request, response, raw)
    response.delete_cookie(LOGIN_CSRF, path="/")
    return response


@router.get("/mfa")
def mfa_page(request: Request, next: str = "") -> Response:
    session = session_of(request, allow_mfa_pending=True)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    return _page(request, "mfa.html", next=safe_next(next), csrf=session.csrf, error=None)


@router.post("/mfa", response_model=None)
def mfa(
    request: Request,
    code: str = Form(max_length=64),
    csrf: str = Form(max_length=64),
    next: str = Form(default="", max_length=4096),
) -> Response:
    backend = backend_of(request)
    session = session_of(request, allow_mfa_pending=True)
    if session is None or not same(csrf, session.csrf):
        return RedirectResponse("/login", status_code=303)
    try:
        accounts.check_second_factor(backend, session.bio_id, code)
    except IdentityError as exc:
        return _page(
            request, "mfa.html", exc.status, next=safe_next(next), csrf=csrf, error=exc.message
        )
    raw = sessions.complete_mfa(backend, request.cookies[backend.settings.cookie_name])
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, raw)
    return response


@router.get("/account", response_model=None)
def account(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    backend = backend_of(request)
    user = accounts.public_user(accounts.get_user(backend, session.bio_id))
    memberships = orgs.memberships(backend, session.bio_id)
    return _page(
        request, "account.html", user=user, orgs=memberships, csrf=session.csrf, enrolment=None
    )


@router.post("/account/mfa", response_model=None)
def account_mfa(
    request: Request, csrf: str = Form(max_length=64), code: str = Form(default="", max_length=16)
) -> Response:
    """Start enrolment (no code) or confirm it (with the first code)."""
    backend = backend_of(request)
    session = session_of(request)
    if session is None or not same(csrf, session.csrf):
        return RedirectResponse("/login?next=/account", status_code=303)
    user = accounts.public_user(accounts.get_user(backend, session.bio_id))
    memberships = orgs.memberships(backend, session.bio_id)
    context: dict[str, Any] = {"user": user, "orgs": memberships, "csrf": csrf}
    if not code:
        return _page(
            request,
            "account.html",
            enrolment=accounts.begin_mfa(backend, session.bio_id),
            **context,
        )
    try:
        recovery = accounts.confirm_mfa(backend, session.bio_id, code)
    except IdentityError as exc:
        return _page(
            request, "account.html", exc.status, enrolment=None, error=exc.message, **context
        )
    context["user"]["mfaEnabled"] = True
    return _page(request, "account.html", enrolment=None, recovery=recovery, **context)


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    backend = backend_of(request)
    raw = request.cookies.get(backend.settings.cookie_name)
    if raw:
        sessions.end(backend, raw)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(request, response)
    return response


@router.get("/verify-email")
def verify_email_page(request: Request, token: str = "") -> HTMLResponse:
    try:
        accounts.verify_email(backend_of(request), token)
    except IdentityError as exc:
        return _page(request, "message.html", exc.status, title="Link not valid", text=exc.message)
    return _page(request, "message.html", title="Email confirmed", text="You can sign in now.")


@router.get("/reset-password")
def reset_page(request: Request, token: str = "") -> HTMLResponse:
    # The token is only read here; it is spent by the POST, so link scanners
    # that fetch the page do not burn it.
    return _page(request, "reset.html", token=token[:256], error=None)


@router.post("/reset-password")
def reset(
    request: Request,
    token: str = Form(max_length=256),
    password: str = Form(max_length=accounts.MAX_PASSWORD),
) -> HTMLResponse:
    backend = backend_of(request)
    try:
        bio_id = accounts.reset_password(backend, token, password)
    except IdentityError as exc:
        return _page(request, "reset.html", exc.status, token=token, error=exc.message)
    sessions.end_all(backend, bio_id)
    return _page(request, "message.html", title="Password changed", text="Sign in with it now.")


@router.get("/invitations", response_model=None)
def invitation_page(request: Request, token: str = "") -> Response:
    session = session_of(request)
    if session is None:
        target = f"/invitations?{urlencode({'token': token[:256]})}"
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
    return _page(request, "invitation.html", token=token[:256], csrf=session.csrf)


@router.post("/invitations", response_model=None)
def accept_invitation(
    request: Request, token: str = Form(max_length=256), csrf: str = Form(max_length=64)
) -> Response:
    session = session_of(request)
    if session is None or not same(csrf, session.csrf):
        return RedirectResponse("/login", status_code=303)
    try:
        org = orgs.accept_invitation(backend_of(request), token=token, bio_id=session.bio_id)
    except IdentityError as exc:
        return _page(
            request, "message.html", exc.status, title="Invitation not valid", text=exc.message
        )
    return _page(request, "message.html", title=f"You joined {org['name']}", text="")


def _set_login_csrf(request: Request, response: Response, csrf: str) -> None:
    response.set_cookie(
        LOGIN_CSRF,
        csrf,
        max_age=1800,
        httponly=True,
        secure=backend_of(request).settings.cookie_secure,
        samesite="lax",
        path="/",
    )
