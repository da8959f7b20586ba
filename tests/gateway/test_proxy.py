"""The gateway as a client and an upstream see it: auth, path tricks, headers, failures.

One gateway process per module, fed by the real registry and Redis; the
upstream echoes what reached it, so a test can prove a request never got
there.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import (
    FakeWallet,
    Issuer,
    Process,
    Upstream,
    gateway_env,
    put_service,
    raw_request,
)
from tests.harness.redis_server import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gateway(
    registry: Process, upstream: Upstream, issuer: Issuer, wallet: FakeWallet, redis_srv: Any
) -> Iterator[Process]:
    put_service(
        registry,
        "secure",
        upstream=upstream.url,
        routes=[{"path": "/api/secure", "methods": ["GET", "POST"], "auth": "required", "gas": 0}],
    )
    put_service(
        registry,
        "open",
        upstream=upstream.url,
        routes=[
            {"path": "/api/open", "methods": ["GET", "POST"], "auth": "none", "gas": 0},
            {"path": "/api/maybe", "methods": ["GET"], "auth": "optional", "gas": 0},
        ],
    )
    put_service(
        registry,
        "down",
        upstream=f"http://127.0.0.1:{free_port()}",
        routes=[{"path": "/api/down", "methods": ["GET"], "auth": "none", "gas": 0}],
    )
    env = gateway_env(
        registry=registry, issuer=issuer, wallet_url=wallet.url, redis_url=redis_srv.url
    )
    process = Process("gateway", env).start(ready_path="/readyz")
    yield process
    process.stop()


def _get(port: int, target: str, *headers: str) -> int:
    lines = [f"GET {target} HTTP/1.1", "Host: api.test", "Connection: close", *headers]
    status, _ = raw_request(port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    return status


# -- path tricks never bypass auth ----------------------------------------------------------

TRICKS = [
    ("/api/open/../secure", 400),
    ("/api/open/./../secure", 400),
    ("/api/open/%2e%2e/secure", 400),
    ("/api/open/%2E%2E/secure", 400),
    ("/api/open/.%2e/secure", 400),
    ("/api/open/%252e%252e/secure", 400),
    ("/api/open/..;/secure", 400),
    ("/api/open%2f..%2fsecure", 400),
    ("/api/open/..%2Fsecure", 400),
    ("/api/open/..%5csecure", 400),
    ("/api/open/a%2fb", 400),
    ("/api/open/a%5Cb", 400),
    ("/api/open/%2541", 400),
    ("/api/open\\..\\secure", 400),
    ("/api/open/%00/../secure", 400),
    ("/api/secure.", 400),
    ("/api/secure./x", 400),
    ("/api/secure%2e", 400),
    ("/api/open/" + "a" * 2100, 400),
    ("/API/secure", 404),
    ("/api/SECURE", 404),
    ("/Api/Secure", 404),
    ("/api/securex", 404),
    ("/api/secure", 401),
    ("/api/secure/", 401),
    ("/api/secure/x/y", 401),
    ("//api/secure", 401),
    ("/api//secure", 401),
    ("/api/%73ecure", 401),
    ("/api/secure?x=/api/open", 401),
    ("http://api.test/api/secure", 401),
]


@pytest.mark.parametrize(("target", "status"), TRICKS)
def test_path_tricks_never_reach_a_protected_upstream(
    gateway: Process, upstream: Upstream, target: str, status: int
) -> None:
    before = len(upstream.seen)
    assert _get(gateway.port, target) == status
    assert len(upstream.seen) == before


@pytest.mark.parametrize("target", ["/api/secure", "//api/secure", "/api/%73ecure"])
def test_a_valid_token_is_let_through_to_the_normalised_path(
    gateway: Process, upstream: Upstream, issuer: Issuer, target: str
) -> None:
    assert _get(gateway.port, target, f"Authorization: Bearer {issuer.token()}") == 200
    assert upstream.seen[-1][1] == "/api/secure"


def test_dot_segments_are_refused_even_with_a_token(gateway: Process, issuer: Issuer) -> None:
    auth = f"Authorization: Bearer {issuer.token()}"
    assert _get(gateway.port, "/api/secure/../open", auth) == 400


# -- auth ---------------------------------------------------------------------------------


def test_a_missing_token_gets_a_bearer_challenge(gateway: Process) -> None:
    response = httpx.get(gateway.url + "/api/secure")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["details"]["requestId"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b.c",
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "forged",
    ],
)
def test_bad_tokens_are_refused(gateway: Process, issuer: Issuer, token: str) -> None:
    made = {
        "expired": lambda: issuer.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        "wrong-audience": lambda: issuer.token(aud="someone-else"),
        "wrong-issuer": lambda: issuer.token(iss="https://evil.example"),
        "forged": lambda: issuer.token(key=issuer.other_key),
    }
    value = made[token]() if token in made else token
    response = httpx.get(gateway.url + "/api/secure", headers={"Authorization": f"Bearer {value}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_optional_auth_verifies_a_token_when_there_is_one(gateway: Process, issuer: Issuer) -> None:
    anonymous = httpx.get(gateway.url + "/api/maybe")
    assert anonymous.status_code == 200
    assert "x-tawa-user" not in anonymous.json()["headers"]

    known = httpx.get(
        gateway.url + "/api/maybe", headers={"Authorization": f"Bearer {issuer.token()}"}
    )
    assert known.json()["headers"]["x-tawa-user"] == "user-1"

    forged = issuer.token(key=issuer.other_key)
    bad = httpx.get(gateway.url + "/api/maybe", headers={"Authorization": f"Bearer {forged}"})
    assert bad.status_code == 401


def test_the_verified_identity_replaces_smuggled_identity_headers(
    gateway: Process, issuer: Issuer
) -> None:
    smuggled = {
        "X-Tawa-User": "admin",
        "X-Tawa-Org": "globex",
        "X-TAWA-ROLES": "admin",
        "x-tawa-scopes": "everything",
        "X-Tawa-Client": "root",
        "X-Tawa-Admin": "true",
        "X-Bill-Org": "globex",
        "Authorization": f"Bearer {issuer.token()}",
    }
    seen = httpx.get(gateway.url + "/api/secure", headers=smuggled).json()["headers"]
    assert seen["x-tawa-user"] == "user-1"
    assert seen["x-tawa-org"] == "acme"
    assert seen["x-tawa-roles"] == "member"
    assert seen["x-tawa-scopes"] == "openid profile orders:read"
    assert seen["x-tawa-client"] == "web-sandbox"
    assert "x-tawa-admin" not in seen
    assert "x-bill-org" not in seen


def test_an_open_route_forwards_no_identity_at_all(gateway: Process) -> None:
    smuggled = {"X-Tawa-User": "admin", "X-Tawa-Org": "globex", "X-Bill-Org": "globex"}
    seen = httpx.get(gateway.url + "/api/open/x", headers=smuggled).json()["headers"]
    assert not [name for name in seen if name.startswith("x-tawa-") or name == "x-bill-org"]


# -- routing, headers, request ids ------------------------------------------------------------


def test_unknown_paths_and_methods(gateway: Process, issuer: Issuer) -> None:
    assert httpx.get(gateway.url + "/nowhere").status_code == 404
    auth = {"Authorization": f"Bearer {issuer.token()}"}
    assert httpx.delete(gateway.url + "/api/secure", headers=auth).status_code == 405


def test_hop_by_hop_headers_stay_on_their_side(gateway: Process) -> None:
    target = "/api/open/hop"
    request = (
        f"GET {target} HTTP/1.1\r\nHost: api.test\r\n"
        "Connection: close, X-Private-Hop\r\nX-Private-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
        "TE: trailers\r\nProxy-Authorization: Basic eDp5\r\nProxy-Thing: 1\r\n"
        "Upgrade: websocket\r\nX-Kept: yes\r\n\r\n"
    ).encode()
    status, answer = raw_request(gateway.port, request)
    assert status == 200
    body = answer.split(b"\r\n\r\n", 1)[1]
    for name in (b"x-private-hop", b"keep-alive", b"proxy-authorization", b"proxy-thing"):
        assert b'"' + name + b'"' not in body
    assert b'"upgrade"' not in body
    assert b'"x-kept": "yes"' in body


def test_request_ids_are_propagated_or_made(gateway: Process) -> None:
    given = httpx.get(gateway.url + "/api/open/id", headers={"X-Request-Id": "req-123"})
    assert given.headers["x-request-id"] == "req-123"
    assert given.json()["headers"]["x-request-id"] == "req-123"

    made = httpx.get(gateway.url + "/api/open/id", headers={"X-Request-Id": "bad id\t!"})
    assert made.headers["x-request-id"] != "bad id\t!"
    assert made.json()["headers"]["x-request-id"] == made.headers["x-request-id"]


def test_queries_and_bodies_reach_the_upstream(gateway: Process) -> None:
    response = httpx.post(gateway.url + "/api/open/echo?a=1&b=%2F", content=b"hello")
    assert response.json()["path"] == "/api/open/echo?a=1&b=%2F"
    assert response.json()["body"] == "hello"


def test_a_streamed_request_body_arrives_whole(gateway: Process) -> None:
    def chunks() -> Iterator[bytes]:
        for i in range(5):
            yield f"part-{i};".encode()

    response = httpx.post(gateway.url + "/api/open/upload", content=chunks())
    assert response.json()["body"] == "part-0;part-1;part-2;part-3;part-4;"


def test_a_response_is_streamed_as_it_arrives(gateway: Process) -> None:
    started = time.monotonic()
    with httpx.stream("GET", gateway.url + "/api/open/stream") as response:
        lines = response.iter_lines()
        assert next(lines) == "chunk-0"
        first = time.monotonic() - started
        assert list(lines) == ["chunk-1", "chunk-2"]
    # The upstream pauses 0.4 s between chunks: a buffered answer would bring all at once.
    assert time.monotonic() - started - first > 0.6


# -- upstream failures ---------------------------------------------------------------------


def test_an_unreachable_upstream_is_a_502_with_a_request_id(gateway: Process) -> None:
    response = httpx.get(gateway.url + "/api/down", headers={"X-Request-Id": "req-502"})
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert response.json()["error"]["details"]["requestId"] == "req-502"


def test_a_slow_upstream_is_a_504(gateway: Process) -> None:
    response = httpx.get(gateway.url + "/api/open/slow", timeout=10)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert response.headers["x-request-id"]


def test_metrics_name_what_the_gateway_did(gateway: Process) -> None:
    text = httpx.get(gateway.url + "/metrics").text
    for name in (
        "tawa_gateway_requests_total",
        "tawa_gateway_request_duration_seconds",
        "tawa_gateway_upstream_errors_total",
        "tawa_gateway_usage_buffer_size",
        "tawa_gateway_usage_dropped_total",
        "tawa_gateway_route_version",
    ):
        assert name in text


def test_a_slow_client_does_not_stall_others(gateway: Process) -> None:
    # A client that sends half a request must not hold up the event loop.
    with socket.create_connection(("127.0.0.1", gateway.port)) as stalled:
        stalled.sendall(b"POST /api/open/x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nab")
        results: list[int] = []
        thread = threading.Thread(
            target=lambda: results.append(httpx.get(gateway.url + "/api/open/y").status_code)
        )
        thread.start()
        thread.join(timeout=5)
    assert results == [200]
