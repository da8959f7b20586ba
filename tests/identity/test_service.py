"""Acceptance against the running service (a uvicorn subprocess): a standard
OAuth/OIDC client library completes authorization code + PKCE and validates
the ID token; client credentials work as curl-style form and JSON posts; and
no password, token, code or secret used in the run appears in its logs.

The tests run in file order and share one service; the last one scans its
log for every secret value the others used.
"""

from __future__ import annotations

import secrets
import warnings

import httpx
import pytest
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from tawa.tokens import TokenVerifier
from tests.harness.identity_server import identity_server

with warnings.catch_warnings():
    # authlib's httpx integration announces its move to httpx2; we pin httpx.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::authlib.deprecate.AuthlibDeprecationWarning"),
]

REDIRECT = "https://board.sandbox.tawa.example/api/auth/callback"
PASSWORD = "a long and secret passphrase " + secrets.token_hex(4)
USED_SECRETS: list[str] = [PASSWORD]


@pytest.fixture(scope="module")
def service(redis_srv):
    key = "it-key-" + secrets.token_hex(8)
    USED_SECRETS.append(key)
    with identity_server(redis_srv.url, internal_key=key) as server:
        yield server


@pytest.fixture(scope="module")
def admin(service):
    with httpx.Client(base_url=service.url, headers={"X-Internal-Key": service.internal_key}) as c:
        yield c


@pytest.fixture(scope="module")
def board(admin):
    """The client of a service deployed with ``auth.mode: sso``."""
    admin.post("/admin/orgs", json={"slug": "acme", "name": "Acme"}).raise_for_status()
    member = {"email": "ada@acme.example", "password": PASSWORD, "role": "developer"}
    admin.post("/admin/orgs/acme/members", json=member).raise_for_status()
    created = admin.put(
        "/admin/clients/board-sandbox",
        json={"redirectUris": [REDIRECT], "scopes": ["board:read"], "org": "acme"},
    )
    assert created.status_code == 201
    secret = created.json()["clientSecret"]
    USED_SECRETS.append(secret)
    return {"client_id": "board-sandbox", "client_secret": secret}


def _browser_login_and_consent(service, authorization_url: str) -> str:
    """What a person does in the browser; returns the redirect to the client."""
    with httpx.Client(base_url=service.url) as browser:
        to_login = browser.get(authorization_url)
        assert to_login.status_code == 303
        login_page = browser.get(to_login.headers["location"])
        form = {
            "email": "ada@acme.example",
            "password": PASSWORD,
            "csrf": browser.cookies["bio_login_csrf"],
            "next": login_page.text.split('name="next" value="')[1]
            .split('"')[0]
            .replace("&amp;", "&"),
        }
        back = browser.post("/login", data=form)
        assert back.status_code == 303, back.text
        consent = browser.get(back.headers["location"])
        assert consent.status_code == 200
        fields = dict(
            (
                part.split('name="')[1].split('"')[0],
                part.split('value="')[1].split('"')[0].replace("&amp;", "&"),
            )
            for part in consent.text.split("<input")[1:]
        )
        redirect = browser.post("/oauth/authorize", data={**fields, "decision": "allow"})
        assert redirect.status_code == 302
        USED_SECRETS.append(browser.cookies["bio_session"])
        return redirect.headers["location"]


def test_oidc_client_completes_code_flow_with_pkce_and_validates_the_id_token(service, board):
    discovery = httpx.get(f"{service.url}/.well-known/openid-configuration").json()
    client = OAuth2Client(
        board["client_id"],
        board["client_secret"],
        scope="openid email offline_access board:read",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
    )
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(12)
    url, state = client.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    assert "code_challenge=" in url
    callback = _browser_login_and_consent(service, url)
    token = client.fetch_token(
        discovery["token_endpoint"],
        authorization_response=callback,
        code_verifier=verifier,
        state=state,
    )
    code = httpx.URL(callback).params["code"]
    USED_SECRETS.extend(
        [verifier, code, token["access_token"], token["refresh_token"], token["id_token"]]
    )

    keys = KeySet.import_key_set(httpx.get(discovery["jwks_uri"]).json())
    decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    id_token = CodeIDToken(
        decoded.claims,
        decoded.header,
        options={"iss": {"essential": True, "value": discovery["issuer"]}},
        params={
            "nonce": nonce,
            "client_id": board["client_id"],
            "access_token": token["access_token"],
        },
    )
    id_token.validate(leeway=5)
    assert id_token["email"] == "ada@acme.example"

    info = client.get(discovery["userinfo_endpoint"]).json()
    assert info["orgSlug"] == "acme"
    assert info["roles"] == ["developer"]

    refreshed = client.refresh_token(discovery["token_endpoint"])
    USED_SECRETS.extend([refreshed["access_token"], refreshed["refresh_token"]])
    assert refreshed["refresh_token"] != token["refresh_token"]


async def test_kernel_verifier_checks_tokens_against_the_live_jwks(service, board):
    answer = httpx.post(
        f"{service.url}/oauth/token", data={"grant_type": "client_credentials", **board}
    )
    access = answer.json()["access_token"]
    USED_SECRETS.append(access)
    verifier = TokenVerifier(
        jwks_url=f"{service.url}/.well-known/jwks.json", issuer=service.url, audience="tawa"
    )
    claims = await verifier.verify(access)
    assert claims["sub"] == "board-sandbox"
    assert claims["orgSlug"] == "acme"


@pytest.mark.parametrize("style", ["form", "json"])
def test_client_credentials_curl_style(service, board, style):
    body = {"grant_type": "client_credentials", "scope": "board:read", **board}
    if style == "json":
        answer = httpx.post(f"{service.url}/api/oauth/token", json=body)
    else:
        answer = httpx.post(f"{service.url}/oauth/token", data=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["expires_in"] == 900
    USED_SECRETS.append(answer.json()["access_token"])


def test_failed_logins_and_bad_secrets_are_logged_without_the_secret(service, board):
    wrong = "wrong-secret-" + secrets.token_hex(8)
    USED_SECRETS.append(wrong)
    answer = httpx.post(
        f"{service.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "board-sandbox",
            "client_secret": wrong,
        },
    )
    assert answer.status_code == 401
    reset = httpx.post(f"{service.url}/api/password-reset", json={"email": "ada@acme.example"})
    assert reset.status_code == 202
    link = service.outbox.read_text().strip().splitlines()[-1]
    USED_SECRETS.append(httpx.URL(__import__("json").loads(link)["link"]).params["token"])


def test_no_secret_appears_in_any_log_line(service):
    log = service.log_text()
    assert "/oauth/token" in log, "the service logged nothing: the scan would prove nothing"
    assert "reset_password message" in log
    leaked = [value[:6] + "…" for value in USED_SECRETS if value in log]
    assert leaked == [], f"secrets found in the service log: {leaked}"
