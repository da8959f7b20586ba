"""The admin API: clients (ensure, rotate, delete), orgs with their wallet,
members and invitations, scope grants."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.identity.conftest import INTERNAL_KEY, PASSWORD, REDIRECT, login, make_client, make_user


async def _token(env, client_id, secret, scope=None):
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if scope:
        body["scope"] = scope
    return await env.http.post("/oauth/token", data=body)


@pytest.mark.parametrize("key", [None, "wrong-key", INTERNAL_KEY[:-1]])
async def test_admin_needs_the_internal_key(env, key):
    headers = {"X-Internal-Key": key} if key else {}
    answer = await env.http.put("/admin/clients/svc-sandbox", json={}, headers=headers)
    assert answer.status_code == 401


async def test_ensure_is_idempotent_and_shows_the_secret_once(env):
    secret = await make_client(env)
    again = await env.admin(
        "PUT", "/admin/clients/svc-sandbox", json={"redirectUris": [REDIRECT], "scopes": ["x:y"]}
    )
    assert again.status_code == 200
    assert "clientSecret" not in again.json()
    assert again.json()["scopes"] == ["x:y"]
    assert (await _token(env, "svc-sandbox", secret)).status_code == 200


async def test_rotate_replaces_the_secret(env):
    old = await make_client(env)
    rotated = await env.admin("POST", "/admin/clients/svc-sandbox/rotate")
    new = rotated.json()["clientSecret"]
    assert (await _token(env, "svc-sandbox", old)).status_code == 401
    assert (await _token(env, "svc-sandbox", new)).status_code == 200


async def test_delete_removes_the_client(env):
    secret = await make_client(env)
    assert (await env.admin("DELETE", "/admin/clients/svc-sandbox")).status_code == 204
    assert (await env.admin("DELETE", "/admin/clients/svc-sandbox")).status_code == 204
    assert (await _token(env, "svc-sandbox", secret)).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"redirectUris": ["http://svc.example/api/auth/callback"]},
        {"redirectUris": ["https://svc.example/cb#fragment"]},
        {"redirectUris": ["javascript:alert(1)"]},
        {"scopes": ["has space"]},
        {"unknown": 1},
    ],
)
async def test_ensure_validates_the_client(env, body):
    answer = await env.admin("PUT", "/admin/clients/svc-sandbox", json=body)
    assert answer.status_code == 422


@pytest.mark.parametrize(
    ("body", "code", "shown"),
    [
        ({"grantTypes": ["password"]}, "invalid_grant_type", "'password'"),
        ({"grantTypes": ["client_credentials", "implicit"]}, "invalid_grant_type", "'implicit'"),
        ({"org": "../x"}, "invalid_slug", "'../x'"),
        ({"org": "Demo Org"}, "invalid_slug", "'Demo Org'"),
    ],
)
async def test_unknown_grant_types_and_bad_orgs_are_refused_not_dropped(env, body, code, shown):
    # Unknown grant types were silently dropped, leaving a client that could get no token.
    answer = await env.admin("PUT", "/admin/clients/svc-sandbox", json=body)

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == code
    assert shown in answer.json()["error"]["message"]
    assert (await env.admin("GET", "/admin/clients/svc-sandbox")).status_code == 404


async def test_invalid_client_id_is_refused(env):
    answer = await env.admin("PUT", "/admin/clients/Bad_Id", json={})
    assert answer.status_code == 422


async def test_grants_inside_one_org_are_approved_and_reach_the_token(env):
    secret = await make_client(env, "consumer-sandbox", org="acme")
    await make_client(env, "raterspot-sandbox", org="acme")
    await make_client(env, "foreign-sandbox", org="globex")
    answer = await env.admin(
        "POST",
        "/admin/grants",
        json={
            "consumer": "consumer-sandbox",
            "provider": "raterspot",
            "environment": "sandbox",
            "scopes": ["raterspot:rate"],
        },
    )
    assert answer.json()["grants"][0]["status"] == "approved"
    pending = await env.admin(
        "POST",
        "/admin/grants",
        json={
            "consumer": "consumer-sandbox",
            "provider": "foreign",
            "environment": "sandbox",
            "scopes": ["foreign:read"],
        },
    )
    grant = pending.json()["grants"][0]
    assert grant["status"] == "pending"
    assert (await _token(env, "consumer-sandbox", secret, "foreign:read")).status_code == 400

    token = await _token(env, "consumer-sandbox", secret, "raterspot:rate")
    assert token.json()["scope"] == "raterspot:rate"

    # An admin approves; a later ensure of the client keeps granted scopes.
    approved = await env.admin("POST", f"/admin/grants/{grant['id']}/approve")
    assert approved.json()["status"] == "approved"
    await env.admin(
        "PUT", "/admin/clients/consumer-sandbox", json={"redirectUris": [], "org": "acme"}
    )
    assert (await _token(env, "consumer-sandbox", secret, "foreign:read")).status_code == 200


class FakeWallet:
    """The wallet service at its HTTP boundary: counts ensures, can be down."""

    def __init__(self) -> None:
        self.created: list[dict] = []
        self.keys: list[str] = []
        self.down = False
        wallet = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                wallet.keys.append(self.headers.get("x-internal-key"))
                if wallet.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                wallet.created.append(body)
                self.send_response(201)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def wallet(env):
    fake = FakeWallet()
    env.backend.settings.wallet_url = fake.url
    yield fake
    fake.close()


async def test_creating_an_org_ensures_its_wallet(env, wallet):
    answer = await env.admin("POST", "/admin/orgs", json={"slug": "acme", "name": "Acme"})
    assert answer.json()["orgId"].startswith("ORG-")
    assert answer.json()["walletPending"] is False
    assert wallet.created == [{"org": "acme", "name": "Acme"}]
    assert wallet.keys == [INTERNAL_KEY]
    await env.admin("POST", "/admin/orgs", json={"slug": "acme"})
    assert len(wallet.created) == 1


async def test_a_wallet_that_is_down_is_retried_on_the_next_ensure(env, wallet):
    wallet.down = True
    answer = await env.admin("POST", "/admin/orgs", json={"slug": "acme"})
    assert answer.status_code == 200
    assert answer.json()["walletPending"] is True
    wallet.down = False
    answer = await env.admin("POST", "/admin/orgs", json={"slug": "acme"})
    assert answer.json()["walletPending"] is False
    assert len(wallet.created) == 1


@pytest.mark.parametrize("slug", ["Acme", "-acme", "a" * 64, "ac me"])
async def test_org_slugs_are_validated(env, slug):
    answer = await env.admin("POST", "/admin/orgs", json={"slug": slug})
    assert answer.status_code == 422


async def test_members_invitations_and_roles(env):
    await make_user(env)
    await login(env)
    created = await env.http.post("/api/orgs", json={"slug": "newco", "name": "NewCo"})
    assert created.status_code == 201
    assert (await env.http.post("/api/orgs", json={"slug": "newco"})).status_code == 409

    invited = await env.http.post(
        "/api/orgs/newco/invitations", json={"email": "bob@example.com", "role": "viewer"}
    )
    assert invited.status_code == 202
    token = parse_qs(urlsplit(env.outbox.messages[-1]["link"]).query)["token"][0]

    # Bob signs up, accepts, and as a viewer may not invite anyone.
    await env.http.post("/api/logout")
    await env.http.post("/api/register", json={"email": "bob@example.com", "password": PASSWORD})
    await login(env, email="bob@example.com")
    joined = await env.http.post("/api/invitations/accept", json={"token": token})
    assert joined.json()["orgSlug"] == "newco"
    me = (await env.http.get("/api/me")).json()
    assert me["orgs"][0]["roles"] == ["viewer"]
    refused = await env.http.post(
        "/api/orgs/newco/invitations", json={"email": "eve@example.com", "role": "owner"}
    )
    assert refused.status_code == 403
    assert (
        await env.http.post("/api/invitations/accept", json={"token": token})
    ).status_code == 400


async def test_an_invitation_only_works_for_its_email(env):
    await make_user(env)
    await login(env)
    await env.http.post("/api/orgs", json={"slug": "newco"})
    await env.http.post("/api/orgs/newco/invitations", json={"email": "bob@example.com"})
    token = parse_qs(urlsplit(env.outbox.messages[-1]["link"]).query)["token"][0]
    await make_user(env, "mallory@example.com", org="other")
    await login(env, email="mallory@example.com")
    assert (
        await env.http.post("/api/invitations/accept", json={"token": token})
    ).status_code == 403


async def test_the_last_owner_cannot_leave(env):
    bio_id = await make_user(env)
    await login(env)
    answer = await env.http.delete(f"/api/orgs/acme/members/{bio_id}")
    assert answer.status_code == 409


async def test_admin_member_without_a_password_needs_an_account(env):
    await env.admin("POST", "/admin/orgs", json={"slug": "acme"})
    answer = await env.admin("POST", "/admin/orgs/acme/members", json={"email": "x@example.com"})
    assert answer.status_code == 404


async def test_invitation_page_flow(env):
    await make_user(env)
    await login(env)
    await env.http.post("/api/orgs/acme/invitations", json={"email": "bob@example.com"})
    token = parse_qs(urlsplit(env.outbox.messages[-1]["link"]).query)["token"][0]
    await env.http.post("/api/logout")
    await env.http.post("/api/register", json={"email": "bob@example.com", "password": PASSWORD})
    first = await env.http.get(f"/invitations?token={token}")
    assert first.status_code == 303  # sign in first
    await login(env, email="bob@example.com")
    page = await env.http.get(f"/invitations?token={token}")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    joined = await env.http.post("/invitations", data={"token": token, "csrf": csrf})
    assert joined.status_code == 200
    assert "Acme" in joined.text
