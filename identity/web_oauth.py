"""HTTP endpoints of the OAuth 2.1 / OpenID Connect provider.

The protocol rules live in :mod:`tawa.identity.oauth`; this module reads
requests (form or JSON bodies, Basic or body client authentication), renders
the consent page and shapes the answers (``Cache-Control: no-store``).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import unquote_plus, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tawa.identity import clients, minting, oauth
from tawa.identity.core import Backend, now, same
from tawa.identity.errors import OAuthError, invalid_client, invalid_request
from tawa.identity.web_common import MAX_FIELD, backend_of, session_of

router = APIRouter(tags=["oauth"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.get("/.well-known/openid-configuration")
def discovery(request: Request) -> dict[str, Any]:
    issuer = backend_of(request).settings.identity_issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "userinfo_endpoint": f"{issuer}/oauth/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(clients.GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": [
            "sub",
            "email",
            "email_verified",
            "bioId",
            "orgSlug",
            "orgId",
            "roles",
        ],
        "authorization_response_iss_parameter_supported": True,
    }


@router.get("/.well-known/jwks.json")
def jwks(request: Request) -> JSONResponse:
    keys = backend_of(request).keys.jwks()
    return JSONResponse(keys, headers={"Cache-Control": "public, max-age=60"})


# -- authorization endpoint -------------------------------------------------


@router.get("/oauth/authorize", response_model=None)
def authorize(request: Request) -> Response:
    backend = backend_of(request)
    params = _fields(dict(request.query_params))
    try:
        client, auth_request = oauth.check_authorization(backend, params)
    except oauth.RedirectableError as exc:
        return _redirect_error(exc)
    except OAuthError as exc:
        return _error_page(request, exc)

    session = session_of(request, allow_mfa_pending=True)
    if session is None or session.mfa_pending:
        target = f"/oauth/authorize?{urlencode(params)}"
        step = "/mfa" if session is not None else "/login"
        return RedirectResponse(f"{step}?{urlencode({'next': target})}", status_code=303)
    if _has_consent(backend, session.bio_id, auth_request):
        return _redirect_code(
            backend, auth_request, bio_id=session.bio_id, auth_time=session.auth_time
        )
    templates = request.app.state.templates
    page: Response = templates.TemplateResponse(
        request,
        "consent.html",
        {
            "client": client,
            "scopes": auth_request.scope.split(),
            "params": params,
            "csrf": session.csrf,
        },
        headers={"X-Frame-Options": "DENY"},
    )
    return page


@router.post("/oauth/authorize", response_model=None)
async def consent(request: Request) -> Response:
    form = _fields({k: str(v) for k, v in (await request.form()).items()})
    return await run_in_threadpool(_decide, request, form)


def _decide(request: Request, form: dict[str, str]) -> Response:
    backend = backend_of(request)
    try:
        _client, auth_request = oauth.check_authorization(backend, form)
    except oauth.RedirectableError as exc:
        return _redirect_error(exc)
    except OAuthError as exc:
        return _error_page(request, exc)
    session = session_of(request)
    if session is None or not same(form.get("csrf", ""), session.csrf):
        return _error_page(request, invalid_request("the consent form expired; start again"))
    if form.get("decision") != "allow":
        denied = oauth.RedirectableError(
            "access_denied",
            "the user declined",
            redirect_uri=auth_request.redirect_uri,
            state=auth_request.state,
        )
        return _redirect_error(denied)
    backend.db["consents"].update_one(
        {"_id": f"{session.bio_id}:{auth_request.client_id}"},
        {"$addToSet": {"scopes": {"$each": auth_request.scope.split()}}, "$set": {"at": now()}},
        upsert=True,
    )
    return _redirect_code(backend, auth_request, bio_id=session.bio_id, auth_time=session.auth_time)


def _has_consent(backend: Backend, bio_id: str, auth_request: oauth.AuthorizationRequest) -> bool:
    consent = backend.db["consents"].find_one({"_id": f"{bio_id}:{auth_request.client_id}"})
    return consent is not None and set(auth_request.scope.split()) <= set(consent.get("scopes", []))


def _redirect_code(
    backend: Backend, auth_request: oauth.AuthorizationRequest, *, bio_id: str, auth_time: float
) -> Response:
    code = oauth.issue_code(backend, auth_request, bio_id=bio_id, auth_time=auth_time)
    answer = {"code": code, "iss": backend.settings.identity_issuer}
    if auth_request.state is not None:
        answer["state"] = auth_request.state
    return _redirect_to(auth_request.redirect_uri, answer)


def _redirect_error(exc: oauth.RedirectableError) -> Response:
    answer = {"error": exc.code, "error_description": exc.message}
    if exc.state is not None:
        answer["state"] = exc.state
    return _redirect_to(exc.redirect_uri, answer)


def _redirect_to(uri: str, query: dict[str, str]) -> Response:
    separator = "&" if "?" in uri else "?"
    return RedirectResponse(
        f"{uri}{separator}{urlencode(query)}", status_code=302, headers=NO_STORE
    )


def _error_page(request: Request, exc: OAuthError) -> HTMLResponse:
    templates = request.app.state.templates
    context = {"title": "This sign-in request is not valid", "text": exc.message}
    response: HTMLResponse = templates.TemplateResponse(
        request, "message.html", context, status_code=400
    )
    return response


# -- token endpoint ---------------------------------------------------------


@router.post("/oauth/token")
@router.post("/api/oauth/token")
async def token(request: Request) -> JSONResponse:
    body = await _body(request)
    answer = await run_in_threadpool(
        _token, backend_of(request), request.headers.get("authorization"), body
    )
    return JSONResponse(answer, headers=NO_STORE)


def _token(backend: Backend, authorization: str | None, body: dict[str, str]) -> dict[str, Any]:
    client = _authenticate_client(backend, authorization, body)
    grant_type = body.get("grant_type", "")
    if grant_type == "authorization_code":
        return oauth.exchange_code(
            backend,
            client,
            code=body.get("code", ""),
            redirect_uri=body.get("redirect_uri", ""),
            verifier=body.get("code_verifier", ""),
        )
    if grant_type == "refresh_token":
        return oauth.refresh(
            backend, client, token=body.get("refresh_token", ""), scope=body.get("scope")
        )
    if grant_type == "client_credentials":
        return oauth.client_credentials(backend, client, scope=body.get("scope"))
    raise OAuthError(
        "unsupported_grant_type",
        "grant_type must be authorization_code, refresh_token or client_credentials",
    )


@router.post("/oauth/revoke")
async def revoke(request: Request) -> Response:
    body = await _body(request)
    backend = backend_of(request)

    def run() -> None:
        client = _authenticate_client(backend, request.headers.get("authorization"), body)
        oauth.revoke(backend, client, token=body.get("token", ""))

    await run_in_threadpool(run)
    return Response(status_code=200, headers=NO_STORE)


@router.post("/oauth/introspect")
async def introspect(request: Request) -> JSONResponse:
    body = await _body(request)
    backend = backend_of(request)

    def run() -> dict[str, Any]:
        _authenticate_client(backend, request.headers.get("authorization"), body)
        return oauth.introspect(backend, token=body.get("token", ""))

    return JSONResponse(await run_in_threadpool(run), headers=NO_STORE)


@router.api_route("/oauth/userinfo", methods=["GET", "POST"])
def userinfo(request: Request) -> JSONResponse:
    backend = backend_of(request)
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    claims = minting.decode_own(backend, value.strip()) if scheme.lower() == "bearer" else None
    if claims is None or claims.get("userType") == "service":
        return JSONResponse(
            {
                "error": "invalid_token",
                "error_description": "a valid user access token is required",
            },
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    keys = (
        "bioId",
        "email",
        "firstName",
        "lastName",
        "displayName",
        "userType",
        "roles",
        "orgSlug",
        "orgId",
        "orgName",
        "orgs",
        "permissions",
    )
    return JSONResponse(
        {"sub": claims["sub"], **{k: claims.get(k) for k in keys}}, headers=NO_STORE
    )


# -- request reading --------------------------------------------------------


async def _body(request: Request) -> dict[str, str]:
    """Form or JSON body as flat strings; anything else is refused."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            raw = json.loads(await request.body())
        except ValueError as exc:
            raise invalid_request("the JSON body cannot be parsed") from exc
        if not isinstance(raw, dict):
            raise invalid_request("the JSON body must be an object")
        values = {k: " ".join(v) if k == "scope" and _strings(v) else v for k, v in raw.items()}
        if any(not isinstance(v, str) for v in values.values()):
            raise invalid_request("every field of the body must be a string")
        return _fields(values)
    if content_type == "application/x-www-form-urlencoded":
        form = await request.form()
        return _fields({k: str(v) for k, v in form.items()})
    raise invalid_request("send the parameters as a form or a JSON object")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _fields(values: dict[str, Any]) -> dict[str, str]:
    for name, value in values.items():
        if len(name) > 64 or len(str(value)) > MAX_FIELD:
            raise invalid_request(f"the field {name[:64]!r} is too long")
    return {k: str(v) for k, v in values.items()}


def _authenticate_client(
    backend: Backend, authorization: str | None, body: dict[str, str]
) -> dict[str, Any]:
    """client_secret_basic or client_secret_post, never both at once."""
    if authorization and authorization.lower().startswith("basic "):
        if "client_secret" in body:
            raise invalid_request("use one client authentication method, not two")
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except ValueError as exc:  # binascii.Error, non-ASCII, bad UTF-8
            raise invalid_client() from exc
        raw_id, _, raw_secret = decoded.partition(":")
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        if body.get("client_id") not in (None, client_id):
            raise invalid_request("client_id in the body differs from the authenticated client")
    else:
        client_id, secret = body.get("client_id", ""), body.get("client_secret", "")
    if not client_id or not secret:
        raise invalid_client()
    client = clients.authenticate(backend, client_id, secret)
    if client is None:
        raise invalid_client()
    return client
