"""Claims to identity, bearer parsing and the verified-token cache."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tawa.gateway.auth import Authenticator, bearer_token, identity_from_claims
from tawa.tokens import InvalidToken


def test_claims_become_the_forwarded_identity() -> None:
    identity = identity_from_claims(
        {
            "sub": "user-1",
            "orgSlug": "acme",
            "orgs": [{"orgSlug": "acme"}, {"orgSlug": "globex", "orgId": "org-g"}, "initech"],
            "roles": ["owner", "dev"],
            "scope": "openid orders:read",
            "permissions": {"scopes": ["orders:read", "orders:write"]},
            "client_id": "web-sandbox",
            "exp": 123,
        }
    )
    assert dict(identity.headers) == {
        "X-Tawa-User": "user-1",
        "X-Tawa-Org": "acme",
        "X-Tawa-Roles": "owner,dev",
        "X-Tawa-Scopes": "openid orders:read orders:write",
        "X-Tawa-Client": "web-sandbox",
    }
    assert identity.may_bill("globex")
    assert identity.may_bill("org-g")
    assert identity.may_bill("initech")
    assert not identity.may_bill("hooli")


def test_header_values_cannot_carry_new_lines() -> None:
    identity = identity_from_claims({"sub": "a\r\nX-Tawa-Org: evil", "orgSlug": "acme"})
    assert dict(identity.headers)["X-Tawa-User"] == "aX-Tawa-Org: evil"


@pytest.mark.parametrize(
    ("header", "token"),
    [(None, None), (b"Bearer abc", "abc"), (b"bearer  abc ", "abc")],
)
def test_bearer_tokens_are_read(header: bytes | None, token: str | None) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize("header", [b"Basic eDp5", b"Bearer", b"Bearer   ", b"abc"])
def test_other_authorization_schemes_are_refused(header: bytes) -> None:
    with pytest.raises(InvalidToken):
        bearer_token(header)


class CountingVerifier:
    def __init__(self, exp: float) -> None:
        self.calls = 0
        self.exp = exp

    async def verify(self, token: str) -> dict[str, Any]:
        self.calls += 1
        if token == "bad":
            raise InvalidToken("no")
        return {"sub": token, "exp": self.exp}


async def test_verified_tokens_are_remembered_but_never_past_expiry() -> None:
    verifier = CountingVerifier(exp=time.time() + 600)
    auth = Authenticator(verifier, size=2, ttl=30)
    for _ in range(3):
        assert (await auth.identify("t1")).user == "t1"
    assert verifier.calls == 1

    await auth.identify("t2")
    await auth.identify("t3")  # evicts t1, the least recently used
    await auth.identify("t1")
    assert verifier.calls == 4

    expiring = Authenticator(CountingVerifier(exp=time.time() - 1), ttl=30)
    await expiring.identify("old")
    await expiring.identify("old")
    assert expiring.verifier.calls == 2


async def test_failures_are_not_remembered() -> None:
    verifier = CountingVerifier(exp=time.time() + 600)
    auth = Authenticator(verifier)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await auth.identify("bad")
    assert verifier.calls == 2
