"""The OAuth 2.1 rules, each checked by a test that fails when the rule is
broken: PKCE S256 only, exact redirect URIs, code replay revokes, refresh
reuse revokes the family, client authentication, revocation, introspection."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tawa.tokens import TokenVerifier
from tests.identity.conftest import (
    ISSUER,
    REDIRECT,
    authorize_params,
    exchange,
    get_code,
    login,
    make_client,
    make_user,
    pkce,
)


@pytest.fixture
async def ready(env):
    """A client, a signed-in user of org acme, and the client's secret."""
    secret = await make_client(env, scopes=["acme:read"], org="acme")
    await make_user(env)
    assert (await login(env)).status_code == 303
    return secret


async def _tokens(env, secret, scope="openid email offline_access"):
    verifier, challenge = pkce()
    code = await get_code(env, challenge, scope=scope)
    answer = await exchange(env, secret, code, verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _introspect(env, secret, token):
    answer = await env.http.post(
        "/oauth/introspect",
        data={"token": token, "client_id": "svc-sandbox", "client_secret": secret},
    )
    return answer.json()["active"]


def _verifier(env):
    return TokenVerifier(
        jwks_url=f"{ISSUER}/.well-known/jwks.json", issuer=ISSUER, audience="tawa", http=env.http
    )


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "code_challenge is required"),
        ({"code_challenge_method": "plain"}, "must be S256"),
        ({"code_challenge_method": None}, "must be S256"),
        ({"code_challenge": "too-short"}, "malformed"),
        ({"response_type": "token"}, "response_type"),
        ({"scope": "openid admin:everything"}, "scope"),
    ],
)
async def test_bad_authorization_requests_are_refused_at_the_redirect(env, ready, overrides, why):
    _, challenge = pkce()
    params = authorize_params(challenge, **overrides)
    answer = await env.http.get(f"/oauth/authorize?{urlencode(params)}", follow_redirects=False)
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert "code" not in query
    assert why in query["error_description"][0]
    assert query["state"] == ["st-1"]


@pytest.mark.parametrize(
    "redirect",
    [
        REDIRECT + "/",
        REDIRECT[:-1],
        REDIRECT.replace("callback", "callbacK"),
        REDIRECT.replace("https://", "http://"),
        REDIRECT + "?next=x",
        REDIRECT.replace("svc.", "svc2."),
        "https://evil.example/api/auth/callback",
    ],
)
async def test_a_redirect_uri_differing_at_all_is_refused_without_redirecting(env, ready, redirect):
    _, challenge = pkce()
    params = authorize_params(challenge, redirect_uri=redirect)
    answer = await env.http.get(f"/oauth/authorize?{urlencode(params)}", follow_redirects=False)
    assert answer.status_code == 400
    assert "location" not in answer.headers


async def test_redirect_uri_at_the_token_endpoint_must_match_too(env, ready):
    verifier, challenge = pkce()
    code = await get_code(env, challenge)
    answer = await exchange(env, ready, code, verifier, redirect_uri=REDIRECT + "x")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("verifier", [None, "x" * 43, "short"])
async def test_code_without_the_right_verifier_is_refused(env, ready, verifier):
    _, challenge = pkce()
    code = await get_code(env, challenge)
    answer = await exchange(env, ready, code, verifier)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


async def test_a_code_used_twice_revokes_what_it_issued(env, ready):
    verifier, challenge = pkce()
    code = await get_code(env, challenge, scope="openid offline_access")
    first = (await exchange(env, ready, code, verifier)).json()
    assert await _introspect(env, ready, first["access_token"])

    second = await exchange(env, ready, code, verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert not await _introspect(env, ready, first["access_token"])
    assert not await _introspect(env, ready, first["refresh_token"])
    refreshed = await _refresh(env, ready, first["refresh_token"])
    assert refreshed.status_code == 400


async def _refresh(env, secret, token):
    return await env.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": "svc-sandbox",
            "client_secret": secret,
        },
    )


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(env, ready):
    first = await _tokens(env, ready)
    rotated = await _refresh(env, ready, first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert await _introspect(env, ready, second["refresh_token"])

    # The thief (or the victim) replays the rotated token: everything goes.
    reused = await _refresh(env, ready, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert (await _refresh(env, ready, second["refresh_token"])).status_code == 400
    for token in (first["access_token"], second["access_token"], second["refresh_token"]):
        assert not await _introspect(env, ready, token)


async def test_another_clients_refresh_token_is_refused(env, ready):
    tokens = await _tokens(env, ready)
    other = await make_client(env, "other-sandbox")
    answer = await env.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "other-sandbox",
            "client_secret": other,
        },
    )
    assert answer.status_code == 400


async def test_access_token_carries_the_passport_claims(env, ready):
    tokens = await _tokens(env, ready, scope="openid email acme:read")
    claims = await _verifier(env).verify(tokens["access_token"])
    assert claims["bioId"] == claims["sub"]
    assert claims["email"] == "ada@example.com"
    assert claims["orgSlug"] == "acme"
    assert claims["orgId"].startswith("ORG-")
    assert claims["roles"] == ["owner"]
    assert claims["orgs"][0]["orgSlug"] == "acme"
    assert claims["permissions"] == {"scopes": ["acme:read"]}
    assert claims["userType"] == "user"
    assert claims["client_id"] == "svc-sandbox"

    info = await env.http.get(
        "/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert info.json()["email"] == "ada@example.com"


async def _credentials(env, secret, *, how, scope=None, client_id="svc-sandbox"):
    body = {"grant_type": "client_credentials"}
    if scope:
        body["scope"] = scope
    if how == "basic":
        auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return await env.http.post(
            "/oauth/token", data=body, headers={"Authorization": f"Basic {auth}"}
        )
    body |= {"client_id": client_id, "client_secret": secret}
    if how == "json":
        return await env.http.post("/api/oauth/token", json=body)
    return await env.http.post("/oauth/token", data=body)


@pytest.mark.parametrize("how", ["form", "json", "basic"])
async def test_client_credentials(env, ready, how):
    answer = await _credentials(env, ready, how=how, scope="acme:read")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    claims = await _verifier(env).verify(answer.json()["access_token"])
    assert claims["userType"] == "service"
    assert claims["sub"] == "svc-sandbox"
    assert claims["orgSlug"] == "acme"
    assert claims["permissions"]["scopes"] == ["acme:read"]


@pytest.mark.parametrize(
    ("secret", "scope", "status", "error"),
    [
        ("wrong", None, 401, "invalid_client"),
        ("", None, 401, "invalid_client"),
        (None, "other:write", 400, "invalid_scope"),
        (None, "openid", 400, "invalid_scope"),
    ],
)
async def test_client_credentials_refusals(env, ready, secret, scope, status, error):
    answer = await _credentials(env, ready if secret is None else secret, how="form", scope=scope)
    assert answer.status_code == status
    assert answer.json()["error"] == error


async def test_two_client_authentication_methods_at_once_are_refused(env, ready):
    auth = base64.b64encode(f"svc-sandbox:{ready}".encode()).decode()
    answer = await env.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": ready},
        headers={"Authorization": f"Basic {auth}"},
    )
    assert answer.status_code == 400


async def test_revocation_of_an_access_and_a_refresh_token(env, ready):
    tokens = await _tokens(env, ready)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        answer = await env.http.post(
            "/oauth/revoke",
            data={"token": token, "client_id": "svc-sandbox", "client_secret": ready},
        )
        assert answer.status_code == 200
        assert not await _introspect(env, ready, token)
    # Unknown tokens are answered 200 too (RFC 7009 §2.2).
    answer = await env.http.post(
        "/oauth/revoke",
        data={"token": "nonsense", "client_id": "svc-sandbox", "client_secret": ready},
    )
    assert answer.status_code == 200


async def test_introspection_needs_client_authentication(env, ready):
    answer = await env.http.post("/oauth/introspect", data={"token": "x"})
    assert answer.status_code == 401


async def test_key_rotation_keeps_tokens_in_flight_valid(env, ready):
    verifier = _verifier(env)
    before = (await _credentials(env, ready, how="form")).json()["access_token"]
    assert (await verifier.verify(before))["sub"] == "svc-sandbox"

    rotated = await env.admin("POST", "/admin/keys/rotate")
    env.backend.keys._cached = None
    after = (await _credentials(env, ready, how="form")).json()["access_token"]
    verifier.refresh_interval = 0  # the new kid is fetched on first sight
    assert (await verifier.verify(after))["sub"] == "svc-sandbox"
    assert (await verifier.verify(before))["sub"] == "svc-sandbox"
    jwks = (await env.http.get("/.well-known/jwks.json")).json()
    assert rotated.json()["kid"] in {k["kid"] for k in jwks["keys"]}
    assert len(jwks["keys"]) == 2


async def test_discovery_document(env):
    document = (await env.http.get("/.well-known/openid-configuration")).json()
    assert document["issuer"] == ISSUER
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["token_endpoint"] == f"{ISSUER}/oauth/token"


async def test_unauthenticated_authorize_goes_to_login(env):
    await make_client(env)
    _, challenge = pkce()
    answer = await env.http.get(
        f"/oauth/authorize?{urlencode(authorize_params(challenge))}", follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=%2Foauth%2Fauthorize")


async def test_consent_requires_the_session_csrf_token(env, ready):
    _, challenge = pkce()
    params = authorize_params(challenge)
    answer = await env.http.post(
        "/oauth/authorize",
        data={**params, "csrf": "forged", "decision": "allow"},
        follow_redirects=False,
    )
    assert answer.status_code == 400


async def test_an_old_signing_key_is_rotated_at_start(env):
    env.backend.db["keys"].update_many({}, {"$inc": {"created_at": -91 * 86400}})
    env.backend.prepare()
    env.backend.keys._cached = None
    statuses = sorted(k["status"] for k in env.backend.db["keys"].find())
    assert statuses == ["active", "previous"]
    env.backend.prepare()
    assert env.backend.db["keys"].count_documents({}) == 2


async def test_readiness_checks_redis_and_the_database(env):
    assert (await env.http.get("/readyz")).status_code == 200


async def test_racing_exchanges_of_one_code_give_one_token_at_most(env, ready):
    verifier, challenge = pkce()
    code = await get_code(env, challenge)
    answers = await asyncio.gather(*(exchange(env, ready, code, verifier) for _ in range(6)))
    assert sorted(a.status_code for a in answers).count(200) <= 1
