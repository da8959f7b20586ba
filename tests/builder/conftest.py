"""The builder suite's platform: the local Kubernetes API, Helm, the real
operator (build, release, health and smoke steps; the others disabled) and a
local HTTP stand-in that answers for the services' cluster addresses."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from kubernetes import client, config

from tawa.resource import GROUP, PLURAL, VERSION, crd_manifest

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "registry.test/tawa"
SERVICES = ("web", "broken", "smoke-ok", "smoke-bad", "smoke-back")
"""One namespace ``{name}-sandbox`` each, watched by the one operator."""


def namespace(name: str) -> str:
    return f"{name}-sandbox"


def eventually(check, *, timeout=40.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what} was not met within {timeout:.0f}s")


@dataclass
class StandIn:
    """Answers ``GET /{service}/...`` paths with the status the test sets."""

    port: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


def _stand_in() -> tuple[ThreadingHTTPServer, StandIn]:
    state = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.requests.append(self.path)
            status = state.answers.get(self.path, 404)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    return server, state


@pytest.fixture(scope="session")
def kube_api(localkube):
    api = config.new_client_from_config(config_file=str(localkube.kubeconfig))
    try:
        client.ApiextensionsV1Api(api).create_custom_resource_definition(crd_manifest())
    except client.ApiException as error:
        if error.status != 409:
            raise
    core = client.CoreV1Api(api)
    for name in SERVICES:
        try:
            core.create_namespace({"metadata": {"name": namespace(name)}})
        except client.ApiException as error:
            if error.status != 409:
                raise
    yield api
    api.close()


@pytest.fixture(scope="session")
def builder_platform(localkube, kube_api, tmp_path_factory) -> Iterator[tuple[StandIn, Path]]:
    """The operator process and the stand-in, for every service of :data:`SERVICES`."""
    server, stand_in = _stand_in()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    workdir = tmp_path_factory.mktemp("builder-operator")
    upstreams = ",".join(
        f"{name}.{namespace(name)}.svc.cluster.local:3000=127.0.0.1:{stand_in.port}"
        for name in SERVICES
    )
    env = {
        **localkube.env,
        "TAWA_KUBECONFIG": str(localkube.kubeconfig),
        "TAWA_HELM": str(ROOT / ".tools" / "bin" / "helm"),
        "TAWA_HELM_HOME": str(workdir / "helm"),
        "TAWA_HELM_DISABLE_OPENAPI_VALIDATION": "true",
        "TAWA_DISABLED_STEPS": "gate,databases,oauth,links,config,registration,dns",
        "TAWA_HEALTH_MODE": "assume",
        "TAWA_STANDALONE": "true",
        "TAWA_LOG_JSON": "false",
        "TAWA_RETRY_DELAY": "1",
        "TAWA_IMAGE_REGISTRY": REGISTRY,
        "TAWA_SMOKE_BACKOFF": "0.01",
        "TAWA_UPSTREAM_MAP": upstreams,
    }
    log_path = workdir / "operator.log"
    log = log_path.open("wb")
    arguments = [arg for name in SERVICES for arg in ("--namespace", namespace(name))]
    process = subprocess.Popen(
        [sys.executable, "-m", "tawa.operator", "--standalone", *arguments],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
    )  # fmt: skip
    try:
        yield stand_in, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()
        server.shutdown()
        server.server_close()


def service_body(name: str, **spec) -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TawaService",
        "metadata": {"name": name, "namespace": namespace(name)},
        "spec": {
            "name": name, "owner": "acme", "environment": "sandbox", "framework": "express",
            "port": 3000, "healthPath": "/health", **spec,
        },
    }  # fmt: skip


class Services:
    """Reads and writes TawaServices and what the operator made for them."""

    def __init__(self, api) -> None:
        self.objects = client.CustomObjectsApi(api)
        self.batch = client.BatchV1Api(api)
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)

    def create(self, body: dict) -> None:
        meta = body["metadata"]
        self.objects.create_namespaced_custom_object(
            GROUP, VERSION, meta["namespace"], PLURAL, body
        )

    def patch_spec(self, name: str, spec: dict) -> None:
        self.objects.patch_namespaced_custom_object(
            GROUP, VERSION, namespace(name), PLURAL, name, {"spec": spec}
        )

    def status(self, name: str) -> dict:
        found = self.objects.get_namespaced_custom_object(
            GROUP, VERSION, namespace(name), PLURAL, name
        )
        return found.get("status") or {}

    def condition(self, name: str, type_: str) -> dict:
        for condition in self.status(name).get("conditions") or []:
            if condition["type"] == type_:
                return condition
        return {}

    def jobs(self, name: str) -> list:
        selector = f"tawa.insureco.io/service={name}"
        return self.batch.list_namespaced_job(namespace(name), label_selector=selector).items

    def deployment_image(self, name: str) -> str | None:
        try:
            found = self.apps.read_namespaced_deployment(name, namespace(name))
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise
        return found.spec.template.spec.containers[0].image


@pytest.fixture(scope="session")
def services(kube_api) -> Services:
    return Services(kube_api)
