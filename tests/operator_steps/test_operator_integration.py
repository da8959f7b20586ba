"""The real operator deploys, changes and deletes a service with two databases and
a custom domain: Secrets, Redis ACL users, DNS records and MongoDB users come and
go, and the data of a ``Retain`` service stays.

Real: the operator process (kopf), the local Kubernetes API, Helm, Redis, the
registry, the ``cloudflare`` SDK. Faked at their boundary: Cloudflare's API (the
harness fake) and MongoDB's commands (recorded; no server can be installed).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis
from kubernetes import client, config

from tawa.resource import GROUP, PLURAL, VERSION, crd_manifest
from tests.harness.cloudflare_fake import cloudflare_fake
from tests.harness.registry_server import registry_server

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("operator_with_recorded_mongo.py")
NAME, NAMESPACE = "shop", "shop-sandbox"
HOST, DOMAIN = "shop.sandbox.tawa.insureco.io", "shop.customer.com"


def eventually(check, *, timeout=60.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"{what} was not met within {timeout:.0f}s")


@pytest.fixture
def kube(localkube):
    api = config.new_client_from_config(config_file=str(localkube.kubeconfig))
    try:
        client.ApiextensionsV1Api(api).create_custom_resource_definition(crd_manifest())
    except client.ApiException as error:
        if error.status != 409:
            raise
    try:
        client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
    except client.ApiException as error:
        if error.status != 409:
            raise
    yield api
    api.close()


@pytest.fixture
def platform(localkube, kube, redis_srv, tmp_path):
    """Registry, Cloudflare fake and the operator process, torn down in reverse."""
    with registry_server(redis_url=redis_srv.url) as registry, cloudflare_fake() as cloudflare:
        cloudflare.add_zone("tawa.insureco.io")
        cloudflare.add_zone("customer.com")
        httpx.post(
            f"{registry.url}/v1/domains", headers=registry.headers,
            json={"domain": DOMAIN, "service": NAME, "environment": "sandbox"},
        ).raise_for_status()  # fmt: skip
        mongo_log = tmp_path / "mongo.jsonl"
        mongo_log.touch()
        env = {
            **localkube.env,
            "TAWA_KUBECONFIG": str(localkube.kubeconfig),
            "TAWA_HELM": str(ROOT / ".tools" / "bin" / "helm"),
            "TAWA_HELM_HOME": str(tmp_path / "helm"),
            "TAWA_HELM_DISABLE_OPENAPI_VALIDATION": "true",
            "TAWA_DISABLED_STEPS": "gate,oauth,health,smoke",
            "TAWA_HEALTH_MODE": "assume",
            "TAWA_STANDALONE": "true",
            "TAWA_LOG_JSON": "false",
            "TAWA_RETRY_DELAY": "2",
            "TAWA_REGISTRY_URL": registry.url,
            "TAWA_INTERNAL_KEY": registry.internal_key,
            "TAWA_REDIS_ADMIN_URL": redis_srv.url,
            "TAWA_REDIS_HOST": f"127.0.0.1:{redis_srv.port}",
            "TAWA_MONGODB_ADMIN_URI": "mongodb://recorded.invalid/admin",
            "TAWA_MONGODB_HOST": "db.tawa.insureco.io:27017",
            "TAWA_CLOUDFLARE_API_TOKEN": cloudflare.token,
            "TAWA_CLOUDFLARE_BASE_URL": cloudflare.base_url,
            "TAWA_CLOUDFLARE_ZONE": "tawa.insureco.io",
            "TAWA_INGRESS_TARGET": "ingress.tawa.insureco.io",
            "TAWA_TEST_MONGO_LOG": str(mongo_log),
        }
        log = (tmp_path / "operator.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, str(LAUNCHER), "--standalone", "--namespace", NAMESPACE],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
        try:
            yield cloudflare, mongo_log, tmp_path / "operator.log", registry
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def service_body(*databases):
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TawaService",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "name": NAME, "owner": "acme", "environment": "sandbox", "framework": "fastapi",
            "image": "registry.example/shop:1.0", "healthPath": "/health",
            "databases": list(databases),
        },
    }  # fmt: skip


def mongo_commands(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_deploy_change_delete_leaves_nothing_but_retained_data(kube, platform, redis_srv):
    cloudflare, mongo_log, operator_log, registry = platform
    objects, core = client.CustomObjectsApi(kube), client.CoreV1Api(kube)
    admin = redis.Redis.from_url(redis_srv.url)

    def status():
        found = objects.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, NAME)
        return found.get("status") or {}

    def converged(generation):
        now = status()
        ready = {c["type"]: c["status"] for c in now.get("conditions", [])}
        return now.get("observedGeneration") == generation and ready.get("DNSReady") == "True"

    def secret(name):
        return core.read_namespaced_secret(name, NAMESPACE).data

    # Deploy: one MongoDB database, Redis, and the bound custom domain.
    objects.create_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, service_body({"type": "mongodb"}, {"type": "redis"})
    )
    try:
        eventually(lambda: converged(1), what=f"deploy ({operator_log})")
    except AssertionError:
        print(operator_log.read_text()[-6000:])
        raise
    assert client.AppsV1Api(kube).read_namespaced_deployment(NAME, NAMESPACE)
    assert set(secret("shop-db-mongodb")) == {"MONGODB_URI"}
    assert set(secret("shop-db-redis")) == {"REDIS_URL", "REDIS_KEY_PREFIX"}
    assert [
        "shop-sandbox",
        {"createUser": "shop-sandbox", "roles": [{"role": "readWrite", "db": "shop-sandbox"}]},
    ] in mongo_commands(mongo_log)
    for zone_host in (HOST, DOMAIN):
        assert any(r["type"] == "CNAME" for r in _records(cloudflare, zone_host))

    url = base64.b64decode(secret("shop-db-redis")["REDIS_URL"]).decode()
    service_redis = redis.Redis.from_url(url)
    service_redis.set("shop-sandbox:order:1", "paid")
    service_redis.close()

    # Change: a second MongoDB database.
    objects.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, NAME,
        {"spec": {"databases": [{"type": "mongodb"}, {"type": "mongodb", "name": "shop-audit"},
                                {"type": "redis"}]}},
    )  # fmt: skip
    eventually(lambda: converged(2), what="the change")
    assert set(secret("shop-db-mongodb")) == {"MONGODB_URI", "SHOP_AUDIT_MONGODB_URI"}

    # Delete (Retain): credentials, records and release go; data stays.
    objects.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, NAME)
    eventually(lambda: _gone(objects), what="deletion")
    secrets = [s.metadata.name for s in core.list_namespaced_secret(NAMESPACE).items]
    assert not [s for s in secrets if s.startswith("shop-db-") or "shop" in s]
    deployments = client.AppsV1Api(kube).list_namespaced_deployment(NAMESPACE).items
    assert [d.metadata.name for d in deployments] == []
    record = httpx.get(f"{registry.url}/v1/services/sandbox/{NAME}", headers=registry.headers)
    assert record.status_code == 404
    assert admin.execute_command("ACL", "GETUSER", "shop-sandbox") is None
    assert admin.get("shop-sandbox:order:1") == b"paid"
    assert _records(cloudflare, HOST) == []
    assert _records(cloudflare, DOMAIN) == []
    commands = mongo_commands(mongo_log)
    dropped = {db for db, command in commands if command.get("dropUser") == "shop-sandbox"}
    assert dropped == {"shop-sandbox", "shop-audit"}
    assert not [c for _, c in commands if "dropDatabase" in c]
    admin.delete("shop-sandbox:order:1")
    admin.close()


def _records(cloudflare, host):
    found = []
    for zone_id in list(cloudflare.state.zones):
        found += [r for r in cloudflare.records(zone_id) if r["name"].endswith(host)]
    return found


def _gone(objects):
    try:
        objects.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, NAME)
    except client.ApiException as error:
        return error.status == 404
    return False
