"""Fixtures of the identity suite: an in-process app on mongomock and the
session's real Redis, and helpers that drive the browser side of a login."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import redis

from tawa.identity.app import build_app
from tawa.identity.core import Backend
from tawa.identity.keys import _new_key_document
from tawa.identity.mail import OutboxSender
from tawa.identity.settings import IdentitySettings
from tawa.store import mongo_client

ISSUER = "http://testserver"
INTERNAL_KEY = "test-internal-key-0123456789"
PASSWORD = "correct horse battery staple"
REDIRECT = "https://svc.sandbox.tawa.example/api/auth/callback"

# Cheap argon2 for tests only; production defaults stay in IdentitySettings.
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


def test_settings(redis_url: str, **overrides) -> IdentitySettings:
    values = {
        "identity_issuer": ISSUER,
        "internal_key": INTERNAL_KEY,
        "redis_url": redis_url,
        "cookie_secure": False,
        **CHEAP_ARGON2,
        **overrides,
    }
    return IdentitySettings(**values)


@dataclass
class Env:
    http: httpx.AsyncClient
    backend: Backend
    outbox: OutboxSender

    async def admin(self, method: str, path: str, **kwargs):
        headers = {"X-Internal-Key": INTERNAL_KEY, **kwargs.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kwargs)


@pytest.fixture(scope="session")
def signing_key_document() -> dict:
    return _new_key_document()


@pytest.fixture
async def env(redis_srv, signing_key_document) -> AsyncIterator[Env]:
    # Each test gets its own Redis database index slice by key prefix: flush ours.
    flush = redis.Redis.from_url(redis_srv.url)
    for key in flush.scan_iter("bio:*"):
        flush.delete(key)
    outbox = OutboxSender()
    settings = test_settings(redis_srv.url)
    db = mongo_client(os.environ.get("TAWA_TEST_MONGODB_URI") or "memory://")[
        f"bio_{uuid.uuid4().hex}"
    ]
    backend = Backend(
        settings=settings, db=db, redis=redis.Redis.from_url(redis_srv.url), sender=outbox
    )
    db["keys"].insert_one(dict(signing_key_document))  # RSA generation is slow; reuse one
    backend.prepare()
    transport = httpx.ASGITransport(app=build_app(settings, backend=backend))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
        yield Env(http=http, backend=backend, outbox=outbox)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


async def make_client(env: Env, client_id: str = "svc-sandbox", *, scopes=(), org=None) -> str:
    answer = await env.admin(
        "PUT",
        f"/admin/clients/{client_id}",
        json={"redirectUris": [REDIRECT], "scopes": list(scopes), "org": org},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["clientSecret"]


async def make_user(
    env: Env, email: str = "ada@example.com", *, org: str = "acme", role="owner"
) -> str:
    await env.admin("POST", "/admin/orgs", json={"slug": org, "name": org.title()})
    answer = await env.admin(
        "POST",
        f"/admin/orgs/{org}/members",
        json={"email": email, "password": PASSWORD, "role": role},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["bioId"]


async def login(env: Env, email: str = "ada@example.com", password: str = PASSWORD):
    page = await env.http.get("/login")
    csrf = page.cookies.get("bio_login_csrf") or env.http.cookies.get("bio_login_csrf")
    return await env.http.post(
        "/login",
        data={"email": email, "password": password, "csrf": csrf, "next": "/account"},
        follow_redirects=False,
    )


def authorize_params(challenge: str | None, **overrides) -> dict:
    params = {
        "response_type": "code",
        "client_id": "svc-sandbox",
        "redirect_uri": REDIRECT,
        "scope": "openid email",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return {k: v for k, v in params.items() if v is not None}


async def get_code(env: Env, challenge: str, **overrides) -> str:
    """Log-in must have happened; walks authorize → consent → redirect."""
    params = authorize_params(challenge, **overrides)
    page = await env.http.get(f"/oauth/authorize?{urlencode(params)}", follow_redirects=False)
    if page.status_code == 200:  # the consent page
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        page = await env.http.post(
            "/oauth/authorize",
            data={**params, "csrf": csrf, "decision": "allow"},
            follow_redirects=False,
        )
    assert page.status_code == 302, page.text
    query = parse_qs(urlsplit(page.headers["location"]).query)
    assert query["state"] == [params["state"]]
    return query["code"][0]


async def exchange(env: Env, secret: str, code: str, verifier: str, **overrides):
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        "client_id": "svc-sandbox",
        "client_secret": secret,
        **overrides,
    }
    return await env.http.post(
        "/oauth/token", data={k: v for k, v in body.items() if v is not None}
    )
