"""Longest-prefix matching on segment boundaries, with methods."""

from __future__ import annotations

import pytest

from tawa.gateway.routes import Route, RouteTable, route_from_record


def _route(path: str, methods: tuple[str, ...] = (), service: str = "svc") -> Route:
    record = {"service": service, "upstream": "http://u", "path": path, "methods": list(methods)}
    route = route_from_record(record)
    assert route is not None
    return route


@pytest.fixture
def table() -> RouteTable:
    table = RouteTable()
    table.replace(
        [
            _route("/api", service="root"),
            _route("/api/x", ("GET",), service="x-read"),
            _route("/api/x", ("POST",), service="x-write"),
            _route("/api/x/deep/er", service="deep"),
            _route("/other/", ("DELETE",), service="other"),
        ],
        version=3,
    )
    return table


@pytest.mark.parametrize(
    ("path", "method", "service"),
    [
        ("/api/x", "GET", "x-read"),
        ("/api/x/", "GET", "x-read"),
        ("/api/x/y", "GET", "x-read"),
        ("/api/x", "HEAD", "x-read"),
        ("/api/x", "POST", "x-write"),
        ("/api/x", "PUT", "root"),
        ("/api/xy", "GET", "root"),
        ("/api/x/deep/er/most", "GET", "deep"),
        ("/api/x/deep/e", "GET", "x-read"),
        ("/api", "PATCH", "root"),
        ("/other", "DELETE", "other"),
        ("/other/thing", "DELETE", "other"),
    ],
)
def test_longest_prefix_with_the_method_wins(
    table: RouteTable, path: str, method: str, service: str
) -> None:
    route = table.match(path, method).route
    assert route is not None
    assert route.service == service


@pytest.mark.parametrize(
    ("path", "method", "known"),
    [
        ("/", "GET", False),
        ("/ap", "GET", False),
        ("/API/x", "GET", False),
        ("/apix", "GET", False),
        ("/other", "GET", True),
        ("/otherwise", "DELETE", False),
    ],
)
def test_unmatched_paths(table: RouteTable, path: str, method: str, known: bool) -> None:
    match = table.match(path, method)
    assert match.route is None
    assert match.path_is_known is known


def test_services_are_replaced_and_dropped_whole(table: RouteTable) -> None:
    table.put_service("x-read", [_route("/v2", service="x-read")], version=4)
    assert table.match("/api/x", "GET").route.service == "root"
    assert table.match("/v2/a", "GET").route.service == "x-read"

    table.drop_service("root", version=5)
    assert table.match("/api/x", "GET").route is None
    assert table.version == 5


@pytest.mark.parametrize(
    "record",
    [
        {"service": "s", "upstream": "http://u", "path": "/a/../b"},
        {"service": "s", "upstream": "http://u", "path": "/a", "auth": "sometimes"},
        {"service": "s", "path": "/a"},
        {"service": "s", "upstream": "http://u", "path": "/a", "gas": "lots"},
    ],
)
def test_malformed_routes_are_skipped(record: dict) -> None:
    assert route_from_record(record) is None


def test_a_route_without_auth_requires_it() -> None:
    assert _route("/a").auth == "required"
