"""The JSON account API under ``/api``: the same operations as the pages, for
the console and scripts. Cookie-authenticated; bodies are validated models."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from tawa.identity import accounts, orgs, sessions
from tawa.identity.errors import LoginRequired
from tawa.identity.web_common import (
    backend_of,
    clear_session_cookie,
    client_address,
    require_session,
    session_of,
    set_session_cookie,
)

router = APIRouter(prefix="/api", tags=["account"])


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Registration(_Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=accounts.MAX_PASSWORD)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)


class Login(_Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=accounts.MAX_PASSWORD)


class TokenBody(_Body):
    token: str = Field(max_length=256)


class ResetRequest(_Body):
    email: str = Field(max_length=320)


class ResetConfirm(_Body):
    token: str = Field(max_length=256)
    password: str = Field(max_length=accounts.MAX_PASSWORD)


class Code(_Body):
    code: str = Field(max_length=64)


class NewOrg(_Body):
    slug: str = Field(max_length=63)
    name: str = Field(default="", max_length=200)


class Invitation(_Body):
    email: str = Field(max_length=320)
    role: str = "developer"


class Role(_Body):
    role: str


@router.post("/register", status_code=201)
def register(request: Request, body: Registration) -> dict[str, Any]:
    user = accounts.register(
        backend_of(request),
        email=body.email,
        password=body.password,
        first_name=body.first_name,
        last_name=body.last_name,
    )
    return accounts.public_user(user)


@router.post("/verify-email", status_code=204)
def verify_email(request: Request, body: TokenBody) -> None:
    accounts.verify_email(backend_of(request), body.token)


@router.post("/password-reset", status_code=202)
def password_reset(request: Request, body: ResetRequest) -> dict[str, str]:
    accounts.request_reset(backend_of(request), body.email)
    return {"status": "if the account exists, a link is on its way"}


@router.post("/password-reset/confirm", status_code=204)
def password_reset_confirm(request: Request, body: ResetConfirm) -> None:
    backend = backend_of(request)
    bio_id = accounts.reset_password(backend, body.token, body.password)
    sessions.end_all(backend, bio_id)


@router.post("/login")
def login(request: Request, response: Response, body: Login) -> dict[str, Any]:
    backend = backend_of(request)
    user = accounts.authenticate(
        backend, email=body.email, password=body.password, address=client_address(request)
    )
    mfa = bool(user.get("mfa", {}).get("enabled"))
    current = request.cookies.get(backend.settings.cookie_name)
    raw = sessions.start(backend, user["_id"], mfa_pending=mfa, replaces=current)
    set_session_cookie(request, response, raw)
    return {"bioId": user["_id"], "mfaRequired": mfa}


@router.post("/mfa/verify")
def mfa_verify(request: Request, response: Response, body: Code) -> dict[str, Any]:
    backend = backend_of(request)
    session = session_of(request, allow_mfa_pending=True)
    if session is None:
        raise LoginRequired("sign in first")
    accounts.check_second_factor(backend, session.bio_id, body.code)
    raw = sessions.complete_mfa(backend, request.cookies[backend.settings.cookie_name])
    set_session_cookie(request, response, raw)
    return {"bioId": session.bio_id, "mfaRequired": False}


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response) -> None:
    backend = backend_of(request)
    raw = request.cookies.get(backend.settings.cookie_name)
    if raw:
        sessions.end(backend, raw)
    clear_session_cookie(request, response)


@router.get("/me")
def me(request: Request) -> dict[str, Any]:
    backend = backend_of(request)
    session = require_session(request)
    user = accounts.public_user(accounts.get_user(backend, session.bio_id))
    return {**user, "orgs": orgs.memberships(backend, session.bio_id)}


@router.post("/mfa/enrol")
def mfa_enrol(request: Request) -> dict[str, str]:
    return accounts.begin_mfa(backend_of(request), require_session(request).bio_id)


@router.post("/mfa/confirm")
def mfa_confirm(request: Request, body: Code) -> dict[str, list[str]]:
    codes = accounts.confirm_mfa(backend_of(request), require_session(request).bio_id, body.code)
    return {"recoveryCodes": codes}


@router.post("/orgs", status_code=201)
def create_org(request: Request, body: NewOrg) -> dict[str, Any]:
    session = require_session(request)
    org = orgs.create_org(backend_of(request), slug=body.slug, name=body.name, owner=session.bio_id)
    return orgs.public_org(org)


@router.post("/orgs/{slug}/invitations", status_code=202)
def invite(request: Request, slug: str, body: Invitation) -> dict[str, str]:
    backend = backend_of(request)
    session = require_session(request)
    org = orgs.get_org(backend, slug)
    orgs.invite(backend, org=org, inviter=session.bio_id, email=body.email, role=body.role)
    return {"status": "invitation sent"}


@router.post("/invitations/accept")
def accept(request: Request, body: TokenBody) -> dict[str, Any]:
    backend = backend_of(request)
    org = orgs.accept_invitation(backend, token=body.token, bio_id=require_session(request).bio_id)
    return orgs.public_org(org)


@router.put("/orgs/{slug}/members/{bio_id}", status_code=204)
def set_role(request: Request, slug: str, bio_id: str, body: Role) -> None:
    backend = backend_of(request)
    org = orgs.get_org(backend, slug)
    orgs.require_role(
        backend, org=org, bio_id=require_session(request).bio_id, allowed=orgs.MANAGERS
    )
    accounts.get_user(backend, bio_id)
    orgs.add_member(backend, org=org, bio_id=bio_id, role=body.role)


@router.delete("/orgs/{slug}/members/{bio_id}", status_code=204)
def remove_member(request: Request, slug: str, bio_id: str) -> None:
    backend = backend_of(request)
    org = orgs.get_org(backend, slug)
    orgs.require_role(
        backend, org=org, bio_id=require_session(request).bio_id, allowed=orgs.MANAGERS
    )
    orgs.remove_member(backend, org=org, bio_id=bio_id)
