"""People and sessions: registration, single-use links, lockout, rate
limits, session cookies and timeouts, TOTP second factor."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from tawa.identity import sessions
from tawa.identity.core import digest
from tests.identity.conftest import PASSWORD, login, make_user


def _token_of(message) -> str:
    return parse_qs(urlsplit(message["link"]).query)["token"][0]


async def test_registration_sends_a_single_use_verification_link(env):
    answer = await env.http.post(
        "/api/register", json={"email": "Bo@Example.com", "password": PASSWORD}
    )
    assert answer.status_code == 201
    assert answer.json()["email"] == "bo@example.com"
    assert answer.json()["emailVerified"] is False
    assert "password" not in answer.text

    token = _token_of(env.outbox.messages[-1])
    assert (await env.http.post("/api/verify-email", json={"token": token})).status_code == 204
    assert (await env.http.post("/api/verify-email", json={"token": token})).status_code == 400
    stored = env.backend.db["users"].find_one({"email": "bo@example.com"})
    assert stored["email_verified"] is True
    assert stored["password_hash"].startswith("$argon2id$")


@pytest.mark.parametrize(
    ("email", "password", "status"),
    [
        ("not-an-email", PASSWORD, 422),
        ("a@example.com", "short", 422),
        ("a@example.com", "x" * 300, 422),
    ],
)
async def test_registration_validates_input(env, email, password, status):
    answer = await env.http.post("/api/register", json={"email": email, "password": password})
    assert answer.status_code == status


async def test_duplicate_registration_conflicts(env):
    body = {"email": "c@example.com", "password": PASSWORD}
    assert (await env.http.post("/api/register", json=body)).status_code == 201
    assert (await env.http.post("/api/register", json=body)).status_code == 409


async def test_password_reset_is_single_use_and_ends_sessions(env):
    await make_user(env)
    assert (await login(env)).status_code == 303
    old_cookie = env.http.cookies.get("bio_session")

    answer = await env.http.post("/api/password-reset", json={"email": "ada@example.com"})
    assert answer.status_code == 202
    token = _token_of(env.outbox.messages[-1])
    new_password = "a brand new passphrase"
    body = {"token": token, "password": new_password}
    assert (await env.http.post("/api/password-reset/confirm", json=body)).status_code == 204
    assert (await env.http.post("/api/password-reset/confirm", json=body)).status_code == 400

    assert sessions.load(env.backend, old_cookie) is None
    assert (await login(env)).status_code == 401
    assert (await login(env, password=new_password)).status_code == 303


async def test_reset_for_an_unknown_email_looks_the_same(env):
    answer = await env.http.post("/api/password-reset", json={"email": "nobody@example.com"})
    assert answer.status_code == 202
    assert env.outbox.messages == []


async def test_expired_reset_link_is_refused(env):
    await make_user(env)
    await env.http.post("/api/password-reset", json={"email": "ada@example.com"})
    token = _token_of(env.outbox.messages[-1])
    env.backend.db["one_time"].update_one(
        {"_id": digest(token)}, {"$set": {"exp": time.time() - 1}}
    )
    body = {"token": token, "password": "another passphrase"}
    assert (await env.http.post("/api/password-reset/confirm", json=body)).status_code == 400


async def test_lockout_after_repeated_failures(env):
    await make_user(env)
    limit = env.backend.settings.lockout_failures
    for _ in range(limit):
        assert (await login(env, password="wrong password!")).status_code == 401
    # Now even the right password is refused until the lockout expires.
    locked = await login(env)
    assert locked.status_code == 429
    assert "locked" in locked.text
    env.backend.redis.delete(f"bio:login-failures:{digest('ada@example.com')}")
    assert (await login(env)).status_code == 303


async def test_unknown_email_counts_failures_too(env):
    for _ in range(env.backend.settings.lockout_failures):
        await login(env, email="ghost@example.com")
    assert (await login(env, email="ghost@example.com")).status_code == 429


async def test_login_rate_limit_per_address(env):
    env.backend.settings.login_rate_per_minute = 3
    statuses = []
    for n in range(5):
        body = {"email": f"user{n}@example.com", "password": "wrong password!"}
        statuses.append((await env.http.post("/api/login", json=body)).status_code)
    assert statuses == [401, 401, 401, 429, 429]


async def test_session_cookie_flags_and_rotation_on_login(env):
    await make_user(env)
    first = await login(env)
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    before = env.http.cookies.get("bio_session")
    await login(env)
    after = env.http.cookies.get("bio_session")
    assert before != after
    assert sessions.load(env.backend, before) is None
    assert sessions.load(env.backend, after) is not None


async def test_secure_cookie_by_default(env):
    env.backend.settings.cookie_secure = True
    await make_user(env)
    answer = await env.http.post(
        "/api/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert "secure" in answer.headers["set-cookie"].lower()


async def test_idle_and_absolute_timeouts(env):
    await make_user(env)
    await login(env)
    raw = env.http.cookies.get("bio_session")
    key = f"bio:session:{digest(raw)}"
    assert 0 < env.backend.redis.ttl(key) <= env.backend.settings.session_idle_seconds

    stored = json.loads(env.backend.redis.get(key))
    stored["created_at"] -= env.backend.settings.session_absolute_seconds + 1
    env.backend.redis.set(key, json.dumps(stored), ex=60)
    assert (await env.http.get("/api/me")).status_code == 401
    assert env.backend.redis.get(key) is None


async def test_logout_ends_the_session(env):
    await make_user(env)
    await login(env)
    assert (await env.http.get("/api/me")).status_code == 200
    await env.http.post("/logout")
    assert (await env.http.get("/api/me")).status_code == 401


async def test_totp_enrolment_login_and_recovery_codes(env):
    await make_user(env)
    await login(env)
    enrolment = (await env.http.post("/api/mfa/enrol")).json()
    totp = pyotp.TOTP(enrolment["secret"])
    recovery = (await env.http.post("/api/mfa/confirm", json={"code": totp.now()})).json()[
        "recoveryCodes"
    ]
    assert len(recovery) == 10
    stored = env.backend.db["users"].find_one({"email": "ada@example.com"})
    assert recovery[0] not in json.dumps(stored["mfa"])

    # A password alone now gives a session that is not signed in yet.
    step = await env.http.post(
        "/api/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert step.json()["mfaRequired"] is True
    assert (await env.http.get("/api/me")).status_code == 401
    assert (await env.http.post("/api/mfa/verify", json={"code": "000000"})).status_code == 401

    # The code from enrolment was spent: a fresh window is needed, or a recovery code.
    assert (await env.http.post("/api/mfa/verify", json={"code": recovery[0]})).status_code == 200
    assert (await env.http.get("/api/me")).status_code == 200

    await env.http.post("/api/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert (await env.http.post("/api/mfa/verify", json={"code": recovery[0]})).status_code == 401


async def test_totp_code_cannot_be_replayed(env):
    bio_id = await make_user(env)
    await login(env)
    secret = (await env.http.post("/api/mfa/enrol")).json()["secret"]
    code = pyotp.TOTP(secret).now()
    assert (await env.http.post("/api/mfa/confirm", json={"code": code})).status_code == 200
    await env.http.post("/api/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert (await env.http.post("/api/mfa/verify", json={"code": code})).status_code == 401
    assert bio_id


async def test_login_page_refuses_a_forged_csrf_token(env):
    await make_user(env)
    await env.http.get("/login")
    answer = await env.http.post(
        "/login",
        data={"email": "ada@example.com", "password": PASSWORD, "csrf": "forged"},
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert "bio_session" not in answer.headers.get("set-cookie", "")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
async def test_login_never_redirects_off_site(env, target):
    await make_user(env)
    page = await env.http.get("/login")
    csrf = page.cookies.get("bio_login_csrf")
    answer = await env.http.post(
        "/login",
        data={"email": "ada@example.com", "password": PASSWORD, "csrf": csrf, "next": target},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/account"


@pytest.mark.parametrize("page", ["/login", "/account", "/mfa"])
async def test_pages_render(env, page):
    await make_user(env)
    await login(env)
    answer = await env.http.get(page)
    assert answer.status_code == 200
    assert answer.headers["x-frame-options"] == "DENY"


async def test_reset_page_spends_the_token_only_on_submit(env):
    await make_user(env)
    await env.http.post("/api/password-reset", json={"email": "ada@example.com"})
    token = _token_of(env.outbox.messages[-1])
    for _ in range(2):  # a link scanner fetching the page burns nothing
        assert (await env.http.get(f"/reset-password?token={token}")).status_code == 200
    new = "yet another passphrase"
    done = await env.http.post("/reset-password", data={"token": token, "password": new})
    assert done.status_code == 200
    again = await env.http.post("/reset-password", data={"token": token, "password": new + "x"})
    assert again.status_code == 400
    assert (await login(env, password=new)).status_code == 303


async def test_reset_mails_are_rate_limited_per_account(env):
    await make_user(env)
    for _ in range(8):
        await env.http.post("/api/password-reset", json={"email": "ada@example.com"})
    assert len(env.outbox.messages) == 5


async def test_mfa_pages_complete_a_browser_login(env):
    await make_user(env)
    await login(env)
    secret = (await env.http.post("/api/mfa/enrol")).json()["secret"]
    totp = pyotp.TOTP(secret)
    await env.http.post("/api/mfa/confirm", json={"code": totp.now()})
    env.backend.redis.delete(*env.backend.redis.keys("bio:totp-used:*"))

    step = await login(env)
    assert step.headers["location"].startswith("/mfa?next=")
    page = await env.http.get(step.headers["location"])
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    done = await env.http.post(
        "/mfa", data={"code": totp.now(), "csrf": csrf, "next": "/account"}, follow_redirects=False
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/account"
    assert (await env.http.get("/api/me")).status_code == 200


async def test_second_factor_guessing_hits_the_lockout(env):
    await make_user(env)
    await login(env)
    secret = (await env.http.post("/api/mfa/enrol")).json()["secret"]
    await env.http.post("/api/mfa/confirm", json={"code": pyotp.TOTP(secret).now()})
    await env.http.post("/api/login", json={"email": "ada@example.com", "password": PASSWORD})
    statuses = set()
    for n in range(env.backend.settings.lockout_failures + 2):
        answer = await env.http.post("/api/mfa/verify", json={"code": f"{n:06d}"})
        statuses.add(answer.status_code)
    assert 429 in statuses
    env.backend.redis.delete(*env.backend.redis.keys("bio:totp-used:*"))
    refused = await env.http.post("/api/mfa/verify", json={"code": pyotp.TOTP(secret).now()})
    assert refused.status_code == 429
