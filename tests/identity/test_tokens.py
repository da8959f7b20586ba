"""The kernel verifier refuses every token that is not a genuine, current RS256
token from our issuer for our audience."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import RSAKey

from tawa.errors import TawaError
from tawa.tokens import InvalidToken, JwksUnavailable, TokenVerifier

ISSUER = "https://bio.example.test"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides):
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "tawa", "sub": "BIO-1", "iat": now, "exp": now + 300}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


class Jwks:
    """A fake JWKS endpoint at the HTTP boundary that counts its fetches."""

    def __init__(self, *keys: RSAKey) -> None:
        self.keys = list(keys)
        self.fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        return httpx.Response(200, json={"keys": [k.as_dict(private=False) for k in self.keys]})


def _key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return _key("k1")


def _verifier(jwks: Jwks, **kwargs) -> TokenVerifier:
    http = httpx.AsyncClient(transport=httpx.MockTransport(jwks.handler))
    return TokenVerifier(jwks_url=JWKS_URL, issuer=ISSUER, audience="tawa", http=http, **kwargs)


def _sign(key: RSAKey, claims: dict, kid: str = "k1") -> str:
    return jwt.encode({"alg": "RS256", "kid": kid}, claims, key)


async def test_genuine_token_is_accepted(key):
    claims = await _verifier(Jwks(key)).verify(_sign(key, _claims(aud=["other", "tawa"])))
    assert claims["sub"] == "BIO-1"


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        (_claims(iss="https://evil.example.test"), "issuer"),
        (_claims(aud="another"), "audience"),
        (_claims(exp=int(time.time()) - 120), "expired"),
        (_claims(exp=None), "exp"),
        (_claims(nbf=int(time.time()) + 600), "not valid yet"),
        (_claims(iat=int(time.time()) + 600), "future"),
    ],
)
async def test_bad_claims_are_refused(key, claims, why):
    with pytest.raises(InvalidToken, match=why):
        await _verifier(Jwks(key)).verify(_sign(key, claims))


async def test_clock_skew_within_leeway_is_tolerated(key):
    token = _sign(key, _claims(exp=int(time.time()) - 10))
    assert (await _verifier(Jwks(key), leeway=30).verify(token))["sub"] == "BIO-1"


async def test_alg_none_is_refused(key):
    header = _b64(json.dumps({"alg": "none", "kid": "k1"}).encode())
    body = _b64(json.dumps(_claims()).encode())
    with pytest.raises(InvalidToken):
        await _verifier(Jwks(key)).verify(f"{header}.{body}.")
    with pytest.raises(InvalidToken, match="RS256"):
        await _verifier(Jwks(key)).verify(f"{header}.{body}.x")


async def test_hs256_signed_with_the_public_key_is_refused(key):
    public_pem = key.as_pem(private=False)
    for kid_key in (public_pem, json.dumps(key.as_dict(private=False)).encode()):
        header = _b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
        body = _b64(json.dumps(_claims()).encode())
        signature = hmac.new(kid_key, f"{header}.{body}".encode(), hashlib.sha256).digest()
        with pytest.raises(InvalidToken, match="RS256"):
            await _verifier(Jwks(key)).verify(f"{header}.{body}.{_b64(signature)}")


async def test_rs256_header_with_tampered_payload_is_refused(key):
    header, _, signature = _sign(key, _claims()).split(".")
    forged = _b64(json.dumps(_claims(sub="BIO-admin")).encode())
    with pytest.raises(InvalidToken, match="signature"):
        await _verifier(Jwks(key)).verify(f"{header}.{forged}.{signature}")


async def test_token_signed_by_a_stranger_is_refused(key):
    with pytest.raises(InvalidToken, match="signature"):
        await _verifier(Jwks(key)).verify(_sign(_key("k1"), _claims()))


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c", "!!!.e30.sig"])
async def test_garbage_is_refused(key, token):
    with pytest.raises(InvalidToken):
        await _verifier(Jwks(key)).verify(token)


async def test_unknown_kid_refreshes_the_jwks_once_within_the_interval(key):
    jwks = Jwks(key)
    verifier = _verifier(jwks, refresh_interval=60)
    await verifier.verify(_sign(key, _claims()))
    assert jwks.fetches == 1

    # A rotated-in key is fetched on first sight; the old key keeps working.
    new = _key("k2")
    jwks.keys.append(new)
    clock = time.time() + 61
    verifier._clock = lambda: clock
    assert (await verifier.verify(_sign(new, _claims(), kid="k2")))["sub"] == "BIO-1"
    assert jwks.fetches == 2

    # Made-up key ids do not turn into JWKS requests.
    for n in range(5):
        with pytest.raises(InvalidToken, match="unknown key"):
            await verifier.verify(_sign(new, _claims(), kid=f"bogus-{n}"))
    assert jwks.fetches == 2


async def test_unreachable_jwks_is_an_upstream_error_not_a_token_error(key):
    def down(request):
        raise httpx.ConnectError("refused")

    http = httpx.AsyncClient(transport=httpx.MockTransport(down))
    verifier = TokenVerifier(jwks_url=JWKS_URL, issuer=ISSUER, audience="tawa", http=http)
    with pytest.raises(JwksUnavailable):
        await verifier.verify(_sign(key, _claims()))
    assert issubclass(InvalidToken, TawaError)
    assert InvalidToken("x").status == 401


_odd = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=4)
    | st.lists(st.text(max_size=3), max_size=2)
)


@settings(max_examples=40, deadline=None)
@given(claims=st.dictionaries(st.sampled_from(["iss", "aud", "exp", "nbf", "iat", "sub"]), _odd))
async def test_odd_claims_give_invalid_token_or_claims_never_a_crash(key, claims):
    with contextlib.suppress(InvalidToken):
        await _verifier(Jwks(key)).verify(_sign(key, claims))
