"""The rules for route paths, methods, upstreams and domains (unit)."""

from __future__ import annotations

import re

import pytest

from tawa.registry import paths


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("/", "/"),
        ("/api/users", "/api/users"),
        ("/api/users/", "/api/users"),
        ("/api/v1.0/items", "/api/v1.0/items"),
        ("/api/a-b_c~d", "/api/a-b_c~d"),
        ("/.well-known/x", "/.well-known/x"),
    ],
)
def test_route_paths_are_stored_canonical(given: str, stored: str) -> None:
    assert paths.route_path(given) == stored


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("api/users", "must start with '/'"),
        ("/api/../admin", "'..' segment"),
        ("/api/./x", "'.' segment"),
        ("/api//x", "'//'"),
        ("//", "'//'"),
        ("/api/x//", "'//'"),
        ("/api/%2e%2e/admin", "percent-encoding"),
        ("/api/%2F", "percent-encoding"),
        ("/api/Users", "lowercase, e.g. '/api/users'"),
        ("/api/users.", "must not end with '.'"),
        ("/api/x/*", "drop the '*'"),
        ("/api/é", "printable ASCII"),
        ("/api/a b", "may only use"),
        ("/api/\x00", "printable ASCII"),
        ("/api/a?b=1", "may only use"),
        ("/" + "a" * 600, "the limit is 512"),
        ("/a" * 40, "more than 32 segments"),
    ],
)
def test_route_paths_that_are_refused_say_why(given: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        paths.route_path(given)


def test_methods_default_to_all_and_are_ordered() -> None:
    assert paths.methods(None) == list(paths.METHODS)
    assert paths.methods(["post", "GET", "get"]) == ["GET", "POST"]


@pytest.mark.parametrize("given", [[], ["FETCH"], ["TRACE"]])
def test_bad_methods_are_refused(given: list[str]) -> None:
    with pytest.raises(ValueError, match="method"):
        paths.methods(given)


@pytest.mark.parametrize(
    "given",
    [
        "ftp://svc:21",
        "http://user:pw@svc:3000",
        "http://svc:3000/?x=1",
        "svc:3000",
        "http://:3000",
        "http://svc:99999",
    ],
)
def test_bad_upstreams_are_refused(given: str) -> None:
    with pytest.raises(ValueError, match="upstream"):
        paths.upstream(given)


def test_upstream_error_never_echoes_credentials() -> None:
    with pytest.raises(ValueError, match="credentials") as caught:
        paths.upstream("http://user:hunter2@svc:3000")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("given", "stored"),
    [("Shop.Example.com", "shop.example.com"), ("xn--bcher-kva.example", "xn--bcher-kva.example")],
)
def test_domains_are_lowercased(given: str, stored: str) -> None:
    assert paths.hostname(given) == stored


@pytest.mark.parametrize(
    "given",
    ["localhost", "example.com.", "10.0.0.1", "-bad.example.com", "bad_.example.com",
     "bücher.example", "a." * 130 + "com", "example.123", "a..example.com"],
)  # fmt: skip
def test_bad_domains_are_refused(given: str) -> None:
    with pytest.raises(ValueError, match="domain"):
        paths.hostname(given)
