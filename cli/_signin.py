"""Sign in as a user the way a web console does: authorization code with PKCE.

A confidential client (a console's backend) is ensured through the identity
service's admin API; the user logs in (session cookie), the authorize step
shows the consent page once and is approved, and the code is exchanged for
tokens with the PKCE verifier. Used by ``tawa dev demo`` and the end-to-end
suite on a dev stack; a real console would do the same over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

CLIENT_ID = "tawa-demo-console"
REDIRECT_URI = "http://127.0.0.1:8765/callback"


class SignInError(Exception):
    """A step of the sign-in did not check out."""


def sign_in(
    identity_url: str,
    *,
    internal_key: str,
    org: str,
    email: str,
    password: str,
    say: Callable[[str], None] = lambda text: None,
) -> str:
    """The user's access token; ``say`` hears one line per step."""
    client_secret = _console_client(identity_url, internal_key=internal_key, org=org)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(16)
    query = {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email", "state": state,
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
    }  # fmt: skip
    with httpx.Client(base_url=identity_url, timeout=15) as browser:
        login = browser.post("/api/login", json={"email": email, "password": password})
        if login.status_code != 200:
            raise SignInError(f"login answered {login.status_code}: {login.text[:200]}")
        say(f"signed in as {email} (session cookie set)")
        answer = browser.get("/oauth/authorize", params=query)
        if answer.status_code == 200:  # the consent page: approve it
            form = dict(query, decision="allow", csrf=_hidden_field(answer.text, "csrf") or "")
            answer = browser.post("/oauth/authorize", data=form)
            say("the consent page was shown and approved")
        location = answer.headers.get("location", "")
        params = parse_qs(urlsplit(location).query)
        if answer.status_code not in (302, 303) or "code" not in params:
            raise SignInError(f"authorize answered {answer.status_code} {answer.text[:200]}")
        if params.get("state") != [state]:
            raise SignInError("authorize returned a different state")
        say("consented; authorization code received at the redirect URI")
        token = browser.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": params["code"][0],
                  "redirect_uri": REDIRECT_URI, "client_id": CLIENT_ID,
                  "client_secret": client_secret, "code_verifier": verifier},
        )  # fmt: skip
    if token.status_code != 200:
        raise SignInError(f"the token endpoint answered {token.status_code}: {token.text[:200]}")
    body = token.json()
    id_token = "with" if "id_token" in body else "without"
    say(f"token endpoint: {body.get('token_type')} token {id_token} an ID token, "
        f"expires in {body.get('expires_in')}s")  # fmt: skip
    return str(body["access_token"])


def _console_client(identity_url: str, *, internal_key: str, org: str) -> str:
    """Ensure the console's client; its secret (shown once, else rotated)."""
    created = _admin(
        "PUT", identity_url, f"/admin/clients/{CLIENT_ID}", internal_key=internal_key,
        json={"redirectUris": [REDIRECT_URI], "scopes": ["openid", "profile", "email"],
              "grantTypes": ["authorization_code", "refresh_token"], "org": org,
              "name": "Tawa demo console"},
    )  # fmt: skip
    client_secret = str(created.get("clientSecret", ""))
    if not client_secret:
        rotated = _admin(
            "POST", identity_url, f"/admin/clients/{CLIENT_ID}/rotate", internal_key=internal_key
        )
        client_secret = str(rotated["clientSecret"])
    return client_secret


def _admin(
    method: str, identity_url: str, path: str, *, internal_key: str, **kwargs: Any
) -> dict[str, Any]:
    response = httpx.request(
        method, identity_url + path, headers={"X-Internal-Key": internal_key}, timeout=15, **kwargs
    )
    if response.status_code >= 400:
        raise SignInError(
            f"{method} identity{path} answered {response.status_code}: {response.text[:300]}"
        )
    body: dict[str, Any] = response.json()
    return body


def _hidden_field(html: str, name: str) -> str | None:
    marker = f'name="{name}"'
    at = html.find(marker)
    if at < 0:
        return None
    tail = html[at:]
    start = tail.find('value="')
    if start < 0:
        return None
    return tail[start + 7 : tail.find('"', start + 7)]
