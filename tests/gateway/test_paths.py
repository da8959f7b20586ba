"""Path normalisation: what is forwarded, and what is refused."""

from __future__ import annotations

import pytest

from tawa.gateway.paths import MAX_PATH, BadPath, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"/", "/"),
        (b"/api/x", "/api/x"),
        (b"/api/x/", "/api/x/"),
        (b"//api///x", "/api/x"),
        (b"/api/%78", "/api/x"),
        (b"/api/%7e-._", "/api/~-._"),
        (b"/api/a%20b", "/api/a%20b"),
        (b"/api/a%2bb", "/api/a%2Bb"),
        (b"/api/caf%c3%a9", "/api/caf%C3%A9"),
        (b"/API/X", "/API/X"),
        (b"/api/v1.2/x", "/api/v1.2/x"),
        (b"/api/.well-known", "/api/.well-known"),
        (b"/api/a;b=c", "/api/a;b=c"),
    ],
)
def test_normalised_paths(raw: bytes, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"*",
        b"api/x",
        b"/api/../x",
        b"/api/./x",
        b"/api/..",
        b"/api/.",
        b"/api/%2e%2e/x",
        b"/api/%2E%2E/x",
        b"/api/.%2e/x",
        b"/api/%2e/x",
        b"/api/..;/x",
        b"/api/x./y",
        b"/api/x.",
        b"/api/x...",
        b"/api/x%2e",
        b"/api%2fx",
        b"/api%2Fx",
        b"/api%5cx",
        b"/api\\x",
        b"/api/%252e%252e/x",
        b"/api/%25",
        b"/api/%00",
        b"/api/%0a",
        b"/api/%7f",
        b"/api/%zz",
        b"/api/%4",
        b"/api/%",
        b"/api/\x00",
        b"/api/\x1fx",
        b"/api/\x7f",
        b"/api/x y",
        b"/api/\xc3\xa9",
        b"/" + b"a" * MAX_PATH,
    ],
)
def test_refused_paths(raw: bytes) -> None:
    with pytest.raises(BadPath):
        normalise(raw)


def test_the_longest_allowed_path_passes() -> None:
    raw = b"/" + b"a" * (MAX_PATH - 1)
    assert normalise(raw) == raw.decode()
