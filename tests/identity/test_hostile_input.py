"""Hostile input gets a 4xx answer, never a 500: the token endpoint, the
authorization endpoint, the forms and the verifier."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tawa.identity import minting
from tests.identity.conftest import REDIRECT, login, make_client, make_user

_b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731


@pytest.mark.parametrize(
    ("kwargs"),
    [
        {"json": {"grant_type": "client_credentials", "scope": [1, 2]}},
        {"json": {"grant_type": {"nested": True}}},
        {"json": [1, 2, 3]},
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}},
        {"content": b"x", "headers": {"content-type": "text/plain"}},
        {"data": {"grant_type": "client_credentials"}, "headers": {"authorization": "Basic ###"}},
        {"data": {"grant_type": "client_credentials"}, "headers": {"authorization": "Basic w6k="}},
        {"data": {"grant_type": "x" * 5000}},
        {"data": {"grant_type": "password", "client_id": "svc-sandbox", "client_secret": "é"}},
    ],
)
async def test_token_endpoint_refuses_garbage_cleanly(env, kwargs):
    await make_client(env)
    answer = await env.http.post("/oauth/token", **kwargs)
    assert 400 <= answer.status_code < 500
    assert "error" in answer.json()


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "svc-sandbox", "redirect_uri": REDIRECT + "é"},
        {"client_id": "é", "redirect_uri": REDIRECT},
        {"client_id": "svc-sandbox", "redirect_uri": REDIRECT, "state": "x" * 5000},
    ],
)
async def test_authorize_refuses_garbage_cleanly(env, params):
    await make_client(env)
    answer = await env.http.get("/oauth/authorize", params=params, follow_redirects=False)
    assert 300 <= answer.status_code < 500


async def test_forms_with_odd_csrf_values_are_refused_cleanly(env):
    await make_user(env)
    await login(env)
    for path, data in [
        ("/login", {"email": "a@b.co", "password": "p", "csrf": "é"}),
        ("/mfa", {"code": "1", "csrf": "é"}),
        ("/account/mfa", {"csrf": "é"}),
        ("/oauth/authorize", {"client_id": "svc-sandbox", "csrf": "é"}),
    ]:
        answer = await env.http.post(path, data=data, follow_redirects=False)
        assert answer.status_code < 500, path


_values = st.integers() | st.text(max_size=5) | st.none()
_claims = st.dictionaries(st.sampled_from(["iss", "exp", "jti", "sub", "alg", "kid"]), _values)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.one_of(_claims, st.lists(st.integers(), max_size=3)),
    payload=st.one_of(_claims, st.lists(st.integers(), max_size=3), st.text(max_size=5)),
)
def test_decode_own_never_raises(env, header, payload):
    token = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}.sig"
    assert minting.decode_own(env.backend, token) is None
