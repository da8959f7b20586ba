"""Fixtures of the registry suite: one registry process for the session, on the
session's real Redis, and an HTTP client that carries the internal key."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.harness.redis_server import RedisServer
from tests.harness.registry_server import RegistryServer, registry_server


@pytest.fixture(scope="session")
def registry(redis_srv: RedisServer) -> Iterator[RegistryServer]:
    with registry_server(redis_url=redis_srv.url) as server:
        yield server


@pytest.fixture
def api(registry: RegistryServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=registry.url, headers=registry.headers, timeout=10) as client:
        yield client


_counter = itertools.count()
_run = uuid.uuid4().hex[:6]


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names that no other test of the session uses (the registry is shared)."""

    def make(stem: str) -> str:
        return f"{stem}-{_run}-{next(_counter)}"

    return make


def service_body(
    *, owner: str = "acme", routes: list[dict] | None = None, **fields: object
) -> dict[str, object]:
    return {
        "owner": owner,
        "upstream": "http://svc.svc-sandbox.svc.cluster.local:3000",
        "routes": routes or [],
        **fields,
    }
