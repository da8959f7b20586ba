"""Change notices on Redis: one per change, carrying its version, and writes
that keep working while Redis is away."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import redis

from tawa.clients.registry import CHANNEL
from tests.harness.redis_server import redis_server
from tests.harness.registry_server import registry_server
from tests.registry.conftest import service_body

pytestmark = pytest.mark.integration


def _subscribe(url: str) -> redis.client.PubSub:
    pubsub = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    pubsub.get_message(timeout=1.0)  # the subscribe confirmation
    return pubsub


def _notices(pubsub: redis.client.PubSub, count: int, timeout: float = 5.0) -> list[dict]:
    found: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message and message["type"] == "message":
            found.append(json.loads(message["data"]))
    return found


def test_every_change_is_published_with_its_version(api, redis_srv, unique) -> None:
    pubsub = _subscribe(redis_srv.url)
    name = unique("pub")
    try:
        written = [
            api.put(f"/v1/services/sandbox/{name}", json=service_body()).json(),
            api.put(f"/v1/config/sandbox/{name}", json={"values": {"K": "v"}}).json(),
            api.post("/v1/domains", json={"domain": f"{name}.example.com", "service": name}).json(),
            api.delete(f"/v1/services/sandbox/{name}").json(),
        ]
        notices = [n for n in _notices(pubsub, 4) if n["service"] == name]
    finally:
        pubsub.close()
    assert [n["version"] for n in notices] == [w["version"] for w in written]
    assert [(n["kind"], n["op"]) for n in notices] == [
        ("service", "upsert"),
        ("config", "upsert"),
        ("domain", "upsert"),
        ("service", "delete"),
    ]
    assert all(n["environment"] == "sandbox" for n in notices)
    # A notice names what changed, never a value.
    assert all(set(n) == {"version", "kind", "op", "service", "environment"} for n in notices)


def test_writes_survive_redis_going_away_and_notices_resume() -> None:
    with redis_server() as own_redis, registry_server(redis_url=own_redis.url) as server:
        api = httpx.Client(base_url=server.url, headers=server.headers, timeout=10)
        pubsub = _subscribe(own_redis.url)
        first = api.put("/v1/services/sandbox/drill", json=service_body()).json()
        assert [n["version"] for n in _notices(pubsub, 1)] == [first["version"]]
        pubsub.close()

        own_redis.stop()
        started = time.monotonic()
        routes = [{"path": "/api/drill"}]
        during = api.put("/v1/services/sandbox/drill", json=service_body(routes=routes))
        assert during.status_code == 200
        assert time.monotonic() - started < 2.0
        assert "registry_publish_failures_total 1.0" in api.get("/metrics").text

        own_redis.start_again()
        pubsub = _subscribe(own_redis.url)
        after = api.put("/v1/services/sandbox/drill", json=service_body()).json()
        assert [n["version"] for n in _notices(pubsub, 1)] == [after["version"]]
        pubsub.close()

        # The change Redis never carried is in the log, where a resync finds it.
        missed = api.get("/v1/routes/changes", params={"since": first["version"]}).json()
        assert [c["version"] for c in missed["changes"]] == [
            during.json()["version"],
            after["version"],
        ]
        assert "Could not publish change" in server.logs()
        api.close()


def test_versions_keep_increasing_across_a_restart_of_the_in_memory_store(redis_srv) -> None:
    versions = []
    for _ in range(2):
        with registry_server(redis_url=redis_srv.url) as server:
            answer = httpx.put(
                f"{server.url}/v1/services/sandbox/restarted",
                json=service_body(),
                headers=server.headers,
            )
            versions.append(answer.json()["version"])
    assert versions[1] > versions[0]
