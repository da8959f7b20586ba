"""The running gateway follows the real registry: fast through Redis, healed by catch-up.

The module has its own Redis, which it kills. The gateway's periodic resync is
set to a minute, so every change seen here within seconds came through Redis
or through the catch-up after re-subscribing, not through the timer (which has
its own test, with no Redis at all).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import (
    FakeWallet,
    Issuer,
    Process,
    Upstream,
    delete_service,
    gateway_env,
    put_service,
    wait_for,
)
from tests.harness.redis_server import RedisServer, free_port, redis_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="module")
def own_registry(own_redis: RedisServer) -> Iterator[Process]:
    process = Process("registry", {"TAWA_REDIS_URL": own_redis.url}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def gateway(
    own_registry: Process, own_redis: RedisServer, issuer: Issuer, wallet: FakeWallet
) -> Iterator[Process]:
    env = gateway_env(
        registry=own_registry,
        issuer=issuer,
        wallet_url=wallet.url,
        redis_url=own_redis.url,
        TAWA_ROUTE_RESYNC_SECONDS="60",
    )
    process = Process("gateway", env).start(ready_path="/readyz")
    yield process
    process.stop()


def _route(path: str) -> list[dict[str, Any]]:
    return [{"path": path, "methods": ["GET"], "auth": "none", "gas": 0}]


def _status(gateway: Process, path: str) -> int:
    return httpx.get(gateway.url + path).status_code


def test_a_route_added_or_removed_is_served_within_a_second(
    gateway: Process, own_registry: Process, upstream: Upstream
) -> None:
    put_service(own_registry, "fresh", upstream=upstream.url, routes=_route("/api/fresh"))
    added = wait_for(lambda: _status(gateway, "/api/fresh/x") == 200, timeout=1.0)

    delete_service(own_registry, "fresh")
    removed = wait_for(lambda: _status(gateway, "/api/fresh/x") == 404, timeout=1.0)
    print(f"route added after {added * 1000:.0f} ms, removed after {removed * 1000:.0f} ms")


def test_a_changed_route_replaces_the_old_one(
    gateway: Process, own_registry: Process, upstream: Upstream
) -> None:
    put_service(own_registry, "moving", upstream=upstream.url, routes=_route("/api/before"))
    wait_for(lambda: _status(gateway, "/api/before") == 200, timeout=1.0)

    put_service(own_registry, "moving", upstream=upstream.url, routes=_route("/api/after"))
    wait_for(lambda: _status(gateway, "/api/after") == 200, timeout=1.0)
    assert _status(gateway, "/api/before") == 404


def test_changes_made_while_redis_is_down_arrive_once_it_is_back(
    gateway: Process, own_registry: Process, own_redis: RedisServer, upstream: Upstream
) -> None:
    put_service(own_registry, "doomed", upstream=upstream.url, routes=_route("/api/doomed"))
    wait_for(lambda: _status(gateway, "/api/doomed") == 200, timeout=1.0)

    own_redis.stop()
    put_service(own_registry, "born", upstream=upstream.url, routes=_route("/api/born"))
    delete_service(own_registry, "doomed")
    assert _status(gateway, "/api/born") == 404  # the notice was lost with Redis

    own_redis.start_again()
    wait_for(lambda: _status(gateway, "/api/born") == 200, timeout=8.0)
    assert _status(gateway, "/api/doomed") == 404

    # And Redis carries notices again afterwards.
    put_service(own_registry, "later", upstream=upstream.url, routes=_route("/api/later"))
    wait_for(lambda: _status(gateway, "/api/later") == 200, timeout=1.0)


def test_the_timer_heals_a_gateway_without_redis(
    own_registry: Process, issuer: Issuer, wallet: FakeWallet, upstream: Upstream
) -> None:
    env = gateway_env(
        registry=own_registry,
        issuer=issuer,
        wallet_url=wallet.url,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        TAWA_ROUTE_RESYNC_SECONDS="0.3",
    )
    deaf = Process("gateway", env).start(ready_path="/readyz")
    try:
        put_service(own_registry, "polled", upstream=upstream.url, routes=_route("/api/polled"))
        wait_for(lambda: _status(deaf, "/api/polled") == 200, timeout=2.0)
    finally:
        deaf.stop()


def test_a_registry_that_lost_its_history_is_reloaded_in_full(
    gateway: Process, own_registry: Process, upstream: Upstream
) -> None:
    # The in-memory registry restarts empty: its versions start again below ours.
    put_service(own_registry, "old", upstream=upstream.url, routes=_route("/api/old"))
    wait_for(lambda: _status(gateway, "/api/old") == 200, timeout=1.0)
    own_registry.stop()
    own_registry.start()

    put_service(own_registry, "new", upstream=upstream.url, routes=_route("/api/new"))
    wait_for(lambda: _status(gateway, "/api/new") == 200, timeout=2.0)
    assert _status(gateway, "/api/old") == 404


def test_a_gateway_started_before_the_registry_becomes_ready_when_it_answers(
    own_redis: RedisServer, issuer: Issuer, wallet: FakeWallet, upstream: Upstream
) -> None:
    port = free_port()
    late = Process("registry", {"TAWA_REDIS_URL": own_redis.url}, port=port)
    env = gateway_env(
        registry=late,
        issuer=issuer,
        wallet_url=wallet.url,
        redis_url=own_redis.url,
        TAWA_ROUTE_RESYNC_SECONDS="60",
    )
    early = Process("gateway", env).start()
    try:
        assert httpx.get(early.url + "/readyz").status_code == 503
        late.start()
        put_service(late, "late", upstream=upstream.url, routes=_route("/api/late"))
        wait_for(lambda: _status(early, "/api/late") == 200, timeout=3.0)
        assert httpx.get(early.url + "/readyz").status_code == 200
    finally:
        early.stop()
        late.stop()
