"""Which headers cross the hop, in each direction."""

from __future__ import annotations

from tawa.gateway.forward import downstream_headers, upstream_headers


def test_upstream_headers_drop_hop_by_hop_identity_and_billing() -> None:
    headers = [
        (b"host", b"api.example"),
        (b"connection", b"keep-alive, x-secret-hop"),
        (b"x-secret-hop", b"1"),
        (b"keep-alive", b"timeout=5"),
        (b"te", b"trailers"),
        (b"trailer", b"x-t"),
        (b"transfer-encoding", b"chunked"),
        (b"upgrade", b"h2c"),
        (b"proxy-authorization", b"Basic eDp5"),
        (b"proxy-connection", b"keep-alive"),
        (b"x-tawa-user", b"admin"),
        (b"x-tawa-anything", b"1"),
        (b"x-bill-org", b"globex"),
        (b"x-internal-key", b"guessed"),
        (b"x-request-id", b"client-chosen"),
        (b"content-length", b"5"),
        (b"x-forwarded-for", b"10.0.0.1"),
        (b"accept", b"application/json"),
        (b"authorization", b"Bearer t"),
    ]
    out = upstream_headers(
        headers,
        identity=[("X-Tawa-User", "user-1")],
        request_id="rid",
        client="127.0.0.1",
        scheme="http",
        keep_length=False,
    )
    assert dict(out) == {
        "accept": "application/json",
        "authorization": "Bearer t",
        "X-Tawa-User": "user-1",
        "X-Request-Id": "rid",
        "X-Forwarded-For": "10.0.0.1, 127.0.0.1",
        "X-Forwarded-Host": "api.example",
        "X-Forwarded-Proto": "http",
    }


def test_a_streamed_body_keeps_its_length() -> None:
    out = upstream_headers(
        [(b"content-length", b"5")],
        identity=[],
        request_id="r",
        client="c",
        scheme="https",
        keep_length=True,
    )
    assert out["content-length"] == "5"
    assert out["X-Forwarded-Proto"] == "https"


def test_an_ingress_in_front_keeps_its_forwarded_host_and_proto() -> None:
    headers = [
        (b"host", b"gateway.internal"),
        (b"x-forwarded-host", b"api.example"),
        (b"x-forwarded-proto", b"https"),
    ]
    out = upstream_headers(
        headers, identity=[], request_id="r", client="c", scheme="http", keep_length=False
    )
    assert (out["X-Forwarded-Host"], out["X-Forwarded-Proto"]) == ("api.example", "https")


def test_downstream_headers_drop_hop_by_hop_and_carry_our_request_id() -> None:
    raw = [
        (b"Content-Type", b"text/plain"),
        (b"Connection", b"close, X-Internal-Hop"),
        (b"X-Internal-Hop", b"1"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Proxy-Authenticate", b"Basic"),
        (b"X-Request-Id", b"upstream-chosen"),
        (b"Set-Cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
    ]
    assert downstream_headers(raw, request_id=b"rid") == [
        (b"content-type", b"text/plain"),
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"x-request-id", b"rid"),
    ]
