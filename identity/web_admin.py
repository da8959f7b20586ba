"""The admin API (``X-Internal-Key``): OAuth clients, orgs and members, scope
grants, key rotation. Used by the operator, the CLI and the demo."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from tawa.identity import accounts, clients, grants, orgs
from tawa.identity.errors import NotFound
from tawa.identity.web_common import backend_of

router = APIRouter(prefix="/admin", tags=["admin"])


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ClientSpec(_Body):
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    scopes: list[str] = Field(default_factory=list, max_length=100)
    grant_types: list[str] | None = None
    org: str | None = Field(default=None, max_length=63)
    name: str = Field(default="", max_length=200)


class OrgSpec(_Body):
    slug: str = Field(max_length=63)
    name: str = Field(default="", max_length=200)


class MemberSpec(_Body):
    email: str = Field(max_length=320)
    role: str = "developer"
    password: str | None = Field(default=None, max_length=accounts.MAX_PASSWORD)
    """Creates the user (email already verified) when no account has this email."""
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)


class GrantRequest(_Body):
    consumer: str = Field(max_length=128)
    provider: str = Field(max_length=63)
    environment: str = Field(max_length=16)
    scopes: list[str] = Field(min_length=1, max_length=50)


@router.put("/clients/{client_id}")
def ensure_client(request: Request, client_id: str, body: ClientSpec) -> JSONResponse:
    """Idempotent; answers 201 with ``clientSecret`` only when the client is new."""
    client, secret = clients.ensure_client(
        backend_of(request),
        client_id,
        redirect_uris=body.redirect_uris,
        scopes=body.scopes,
        org=body.org,
        name=body.name,
        grant_types=body.grant_types,
    )
    answer = clients.public_client(client)
    if secret is not None:
        return JSONResponse(
            {**answer, "clientSecret": secret},
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )
    return JSONResponse(answer)


@router.get("/clients/{client_id}")
def get_client(request: Request, client_id: str) -> dict[str, Any]:
    return clients.public_client(clients.get_client(backend_of(request), client_id))


@router.post("/clients/{client_id}/rotate")
def rotate(request: Request, client_id: str) -> JSONResponse:
    backend = backend_of(request)
    secret = clients.rotate_secret(backend, client_id)
    answer = {
        **clients.public_client(clients.get_client(backend, client_id)),
        "clientSecret": secret,
    }
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


@router.delete("/clients/{client_id}", status_code=204)
def delete_client(request: Request, client_id: str) -> Response:
    clients.delete_client(backend_of(request), client_id)
    return Response(status_code=204)


@router.post("/orgs")
def ensure_org(request: Request, body: OrgSpec) -> dict[str, Any]:
    return orgs.public_org(orgs.ensure_org(backend_of(request), slug=body.slug, name=body.name))


@router.post("/orgs/{slug}/members")
def add_member(request: Request, slug: str, body: MemberSpec) -> dict[str, Any]:
    backend = backend_of(request)
    org = orgs.get_org(backend, slug)
    email = accounts.normal_email(body.email)
    user = backend.db["users"].find_one({"email": email})
    if user is None:
        if body.password is None:
            raise NotFound(f"no account for {email}; pass a password to create one")
        user = accounts.register(
            backend,
            email=email,
            password=body.password,
            first_name=body.first_name,
            last_name=body.last_name,
            verified=True,
        )
    orgs.add_member(backend, org=org, bio_id=user["_id"], role=body.role)
    return {"bioId": user["_id"], "email": email, "orgSlug": slug, "role": body.role}


@router.post("/grants")
def request_grants(request: Request, body: GrantRequest) -> dict[str, Any]:
    found = grants.request(
        backend_of(request),
        consumer=body.consumer,
        provider=body.provider,
        environment=body.environment,
        scopes=body.scopes,
    )
    return {"grants": found}


@router.get("/grants")
def list_grants(request: Request, consumer: str | None = None) -> dict[str, Any]:
    return {"grants": grants.listed(backend_of(request), consumer=consumer)}


@router.post("/grants/{grant_id}/approve")
def approve_grant(request: Request, grant_id: str) -> dict[str, Any]:
    return grants.approve(backend_of(request), grant_id)


@router.post("/keys/rotate")
def rotate_keys(request: Request) -> dict[str, str]:
    backend = backend_of(request)
    settings = backend.settings
    kid = backend.keys.rotate(
        retire_after=max(settings.access_token_ttl, settings.id_token_ttl) + 300
    )
    return {"kid": kid}
