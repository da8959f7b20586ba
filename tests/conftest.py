"""Session-wide fixtures shared by every suite. Per-component fixtures live in
each suite's own conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.localkube import LocalKube, local_kube
from tests.harness.redis_server import RedisServer, redis_server


@pytest.fixture(scope="session")
def redis_srv() -> Iterator[RedisServer]:
    """A real Redis server on a free loopback port, shared by the session."""
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def localkube() -> Iterator[LocalKube]:
    """The local Kubernetes API (``python -m tawa.localkube``) in a subprocess,
    shared by the session: ``.kubeconfig``, ``.url``, ``.env`` (KUBECONFIG set)."""
    with local_kube() as kube:
        yield kube
