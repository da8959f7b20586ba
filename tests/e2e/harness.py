"""The platform under test, and every way the end-to-end tests touch it.

:class:`Platform` wraps one running dev stack (``tawa.cli._devstack``), the
stand-ins that play the deployed services' pods, and the Cloudflare fake the
operator's DNS step talks to. Tests act as a user would (``tawa deploy``,
``kubectl``, a signed-in user calling the gateway) and check the outcome where
it lives: the TawaService status, Kubernetes Secrets, Helm, the identity,
registry and wallet admin APIs, the fake's DNS records.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml
from kubernetes import client

from tawa.cli._devstack import DevStack, StackState
from tawa.cli._standins import StandIn
from tawa.resource import GROUP, PLURAL, VERSION, hostname_for, namespace_for
from tests.harness.cloudflare_fake import FakeCloudflare

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hello-fastapi"
EXAMPLE_OWNER = "demo-org"
"""The owner named in the example's catalog."""
ENVIRONMENT = "sandbox"
ZONE = "tawa.insureco.io"
INGRESS = "ingress.tawa.insureco.io"
OWNER = "e2e-org"
"""Owns the services the suite writes catalogs for."""
CALLERS = "e2e-callers"
"""The signed-in user's org: it pays for the calls the user makes."""
USER = "dev@e2e-callers.example"
MARKER_PREFIX = "_tawa-owner."

T = TypeVar("T")


def eventually(check: Callable[[], T], *, what: str, timeout: float = 60.0) -> T:
    """The first truthy answer of ``check``; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s (last answer {answer!r})")
        time.sleep(0.3)


def write_catalog(
    folder: Path,
    name: str,
    *,
    auth: str | None = None,
    routes: list[dict[str, Any]] | None = None,
) -> Path:
    """A catalog for a small service on port 8000 owned by :data:`OWNER`."""
    spec: dict[str, Any] = {
        "type": "service",
        "lifecycle": "experimental",
        "owner": OWNER,
        "tests": {"smoke": [{"path": "/health", "expect": 200}]},
    }
    if routes:
        spec["routes"] = routes
    if auth:
        spec["auth"] = {"mode": auth}
    component = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": name,
            "annotations": {
                "insureco.io/framework": "fastapi",
                "insureco.io/catalog-version": "0.5.0",
                "insureco.io/pod-tier": "nano",
                "insureco.io/port": "8000",
                "insureco.io/health-endpoint": "/health",
            },
        },
        "spec": spec,
    }
    path = folder / name / "catalog-info.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(component, sort_keys=False))
    return path.parent


@dataclass
class Platform:
    stack: DevStack
    state: StackState
    cloudflare: FakeCloudflare
    zone_id: str
    folder: Path
    image: str
    helm: str
    slow_helm_armed: Path
    """Holds a release name: the operator's helm then stalls on its upgrade."""
    slow_helm_reached: Path
    stand_ins: dict[str, StandIn]
    kube: client.ApiClient
    token: str = ""
    catalogs: Path = field(init=False)

    def __post_init__(self) -> None:
        self.catalogs = self.folder / "catalogs"

    # -- acting as a user ------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        helm_home = str(self.folder / "helm-checks")
        return {**os.environ, **self.state.env(), "HELM_CACHE_HOME": helm_home,
                "HELM_CONFIG_HOME": helm_home, "HELM_DATA_HOME": helm_home}  # fmt: skip

    def url(self, component: str) -> str:
        return self.state.urls[component]

    def deploy(self, *catalogs: Path, wait: bool = True) -> None:
        """``tawa deploy`` of each catalog at once; every one must exit 0."""
        follow = ["--wait", "--timeout", "150"] if wait else ["--no-wait"]
        running = [self._tawa("deploy", str(catalog), "--env", ENVIRONMENT, "--image",
                              self.image, *follow) for catalog in catalogs]  # fmt: skip
        outputs = [process.communicate(timeout=200)[0] for process in running]
        for catalog, process, output in zip(catalogs, running, outputs, strict=True):
            assert process.returncode == 0, f"tawa deploy {catalog.name} failed:\n{output}"

    def _tawa(self, *args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "tawa.cli", *args]
        return subprocess.Popen(
            command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def delete(self, *names: str) -> None:
        """``kubectl delete tsvc``, waiting until the finalizer has run."""
        for name in names:
            namespace = namespace_for(name, ENVIRONMENT)
            command = ["kubectl", "delete", "tsvc", name, "-n", namespace, "--ignore-not-found",
                       "--wait=true", "--timeout=90s"]  # fmt: skip
            result = subprocess.run(command, env=self.env, capture_output=True, text=True)
            assert result.returncode == 0, result.stderr

    def call(self, path: str, *, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.url('gateway')}{path}", headers=headers, timeout=15)

    # -- what the platform holds -----------------------------------------------

    def service(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = client.CustomObjectsApi(self.kube).get_namespaced_custom_object(
                GROUP, VERSION, namespace_for(name, ENVIRONMENT), PLURAL, name
            )
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise
        return found

    def conditions(self, name: str) -> dict[str, dict[str, Any]]:
        status = (self.service(name) or {}).get("status") or {}
        return {c["type"]: c for c in status.get("conditions") or []}

    def phase(self, name: str) -> str | None:
        return ((self.service(name) or {}).get("status") or {}).get("phase")

    def wait_ready(self, name: str, *, timeout: float = 90.0) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            found = self.service(name) or {}
            return found if (found.get("status") or {}).get("phase") == "Ready" else None

        try:
            return eventually(ready, what=f"{name} Ready", timeout=timeout)
        except AssertionError as error:
            conditions = self.conditions(name)
            log = self.operator_log()
            raise AssertionError(f"{error}; conditions: {conditions}\noperator:\n{log}") from None

    def secrets(self, name: str) -> dict[str, dict[str, str]]:
        """Every Secret in the service's namespace, decoded: name → data."""
        found = client.CoreV1Api(self.kube).list_namespaced_secret(namespace_for(name, ENVIRONMENT))
        return {
            s.metadata.name: {k: base64.b64decode(v).decode() for k, v in (s.data or {}).items()}
            for s in found.items
        }

    def releases(self, name: str) -> list[dict[str, Any]]:
        namespace = namespace_for(name, ENVIRONMENT)
        listed = self._helm("list", "-n", namespace, "-a", "-o", "json")
        return list(json.loads(listed or "[]"))

    def revisions(self, name: str) -> list[int]:
        namespace = namespace_for(name, ENVIRONMENT)
        history = self._helm("history", name, "-n", namespace, "-o", "json", check=False)
        return [int(r["revision"]) for r in json.loads(history or "[]")]

    def _helm(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [self.helm, *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result.stdout if result.returncode == 0 else ""

    def dns(self, name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The address records of the service's hostname, and its ownership markers."""
        host = hostname_for(name, ENVIRONMENT, ZONE)
        records = self.cloudflare.records(self.zone_id, name=host)
        markers = self.cloudflare.records(self.zone_id, name=MARKER_PREFIX + host)
        return records, markers

    def admin(self, method: str, component: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Internal-Key": self.state.internal_key}
        return httpx.request(
            method, self.url(component) + path, headers=headers, timeout=15, **kwargs
        )

    def oauth_client(self, name: str) -> dict[str, Any] | None:
        answer = self.admin("GET", "identity", f"/admin/clients/{name}-{ENVIRONMENT}")
        if answer.status_code == 404:
            return None
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def client_credentials_work(self, credentials: dict[str, str]) -> bool:
        """Whether the Secret's client id and secret get a token from the identity service."""
        answer = httpx.post(
            f"{self.url('identity')}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(credentials["BIO_CLIENT_ID"], credentials["BIO_CLIENT_SECRET"]),
            timeout=15,
        )
        return answer.status_code == 200

    def registered(self, name: str) -> bool:
        answer = self.admin("GET", "registry", f"/v1/services/{ENVIRONMENT}/{name}")
        assert answer.status_code in (200, 404), answer.text
        return answer.status_code == 200

    def ledger(self, org: str, **query: str) -> list[dict[str, Any]]:
        """Every entry of the org's wallet matching ``query`` (all pages)."""
        entries: list[dict[str, Any]] = []
        params: dict[str, str] = {**query, "limit": "200"}
        while True:
            answer = self.admin("GET", "wallet", f"/v1/wallets/wallet-{org}/ledger", params=params)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            entries.extend(page["entries"])
            if not page.get("nextCursor"):
                return entries
            params["cursor"] = page["nextCursor"]

    def wallet_is_consistent(self, org: str) -> bool:
        """The wallet's own audit: balances equal the sums of the ledger's entries."""
        answer = self.admin("GET", "wallet", f"/v1/wallets/wallet-{org}/audit")
        assert answer.status_code == 200, answer.text
        return bool(answer.json()["consistent"])

    def gateway_metric(self, name: str) -> float:
        text = httpx.get(f"{self.url('gateway')}/metrics", timeout=15).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and not line.startswith("#")
        )

    def operator_log(self, lines: int = 40) -> str:
        log = Path(self.state.components["operator"].log).read_text(errors="replace")
        return "\n".join(log.splitlines()[-lines:])

    # -- failure drills --------------------------------------------------------

    @contextlib.contextmanager
    def paused(self, component: str) -> Iterator[None]:
        """SIGSTOP for the block: the port accepts connections, nothing answers."""
        self.stack.pause(self.state, component)
        try:
            yield
        finally:
            self.stack.resume(self.state, component)

    @contextlib.contextmanager
    def stopped(self, component: str) -> Iterator[None]:
        """Down for the block (SIGTERM), then started again on the same port."""
        self.stack.stop(self.state, component)
        try:
            yield
        finally:
            self.stack.start(self.state, component)

    def kill(self, component: str) -> None:
        """SIGKILL, as an OOM-killed pod dies: no handler runs."""
        self.stack.stop(self.state, component, kill=True)

    def start(self, component: str) -> None:
        self.stack.start(self.state, component)

    @contextlib.contextmanager
    def helm_stalls_on(self, release: str) -> Iterator[Path]:
        """The operator's helm sleeps on ``upgrade {release}`` and touches the yielded file."""
        self.slow_helm_reached.unlink(missing_ok=True)
        self.slow_helm_armed.write_text(release)
        try:
            yield self.slow_helm_reached
        finally:
            self.slow_helm_armed.unlink(missing_ok=True)


def slow_helm_script(folder: Path, helm: str) -> tuple[Path, Path, Path]:
    """A helm wrapper for the operator; returns (script, armed file, reached file)."""
    armed, reached, script = folder / "helm-armed", folder / "helm-reached", folder / "helm"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = upgrade ] && [ "$2" = "$(cat {armed} 2>/dev/null)" ]; then\n'
        f"  touch {reached}; sleep 120\n"
        "fi\n"
        f'exec {helm} "$@"\n'
    )
    script.chmod(0o755)
    return script, armed, reached
