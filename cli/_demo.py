"""``tawa dev demo`` (``make demo``): the main job, on real input, step by step.

The platform comes up as real processes (``tawa dev up``); the examples and
a few real catalog files from the corpus are deployed with ``tawa deploy`` as
a user would; a user signs in through the identity service (authorization
code with PKCE) and calls an auth-required route through the gateway; the
wallet shows the gas charged; everything is deleted and the platform torn
down. No pod runs on the local API, so each deployed service gets a stand-in
process on a loopback port (the real app for ``hello-fastapi``), and the
operator maps the service's cluster address to it (``TAWA_UPSTREAM_MAP``).

Every step checks its outcome; the first that does not check out ends the
demo with a non-zero exit, after tearing down what was started.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from tawa.catalog import CatalogError, read_catalog
from tawa.cli import _signin, _standins
from tawa.cli._devstack import DevStack, StackState
from tawa.cli._standins import StandIn
from tawa.resource import namespace_for

DEMO_ORG = "demo-org"
ENVIRONMENT = "sandbox"
DEMO_IMAGE = "ghcr.io/tawa-examples/{name}:1.0.0"
CORPUS_PICKS = (
    "01-component-flow-style-missing-lifecycle.yaml",
    "19-website-lighthouse-jira-cross-namespace-refs.yaml",
    "33-double-quoted-annotation-key.yaml",
)


class DemoFailed(Exception):
    """A step did not check out."""


@dataclass
class Deployable:
    """One catalog the demo deploys, and the stand-in that plays its pod."""

    path: Path
    owner: str
    stand_in: StandIn

    @property
    def name(self) -> str:
        return self.stand_in.name


class Demo:
    def __init__(self, folder: Path, console: Console, *, root: Path) -> None:
        self.console = console
        self.root = root
        self.stack = DevStack(folder)
        self.state: StackState | None = None
        self.stand_ins: list[StandIn] = []
        self.logs = folder.resolve() / "logs"
        self.step_number = 0

    # -- output ---------------------------------------------------------------

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.step_number += 1
        self.console.rule(f"[bold]{self.step_number}. {title}")
        started = time.monotonic()
        yield
        self.console.print(f"[green]✓[/] {title} ({time.monotonic() - started:.1f}s)")

    def say(self, text: str) -> None:
        self.console.print(f"  {text}")

    # -- helpers --------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        if self.state is None:
            return dict(os.environ)
        return {**os.environ, **self.state.env()}

    def url(self, component: str) -> str:
        assert self.state is not None
        return self.state.urls[component]

    def tawa(self, *args: str, check: bool = True, show: bool = True) -> str:
        """Run the ``tawa`` CLI as a user would; its output is shown."""
        command = [sys.executable, "-m", "tawa.cli", *args]
        if show:
            self.say(f"[dim]$ tawa {' '.join(args)}[/]")
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, check=False)
        output = (result.stdout + result.stderr).rstrip()
        if show and output:
            for line in output.splitlines():
                self.say(f"  [dim]{line}[/]")
        if check and result.returncode != 0:
            raise DemoFailed(f"`tawa {' '.join(args)}` exited {result.returncode}")
        return result.stdout

    def kubectl(self, *args: str, show: bool = True) -> str:
        if show:
            self.say(f"[dim]$ kubectl {' '.join(args)}[/]")
        result = subprocess.run(
            ["kubectl", *args], env=self.env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise DemoFailed(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        for line in result.stdout.rstrip().splitlines() if show else []:
            self.say(f"  [dim]{line}[/]")
        return result.stdout

    def admin(self, method: str, component: str, path: str, **kwargs: Any) -> httpx.Response:
        assert self.state is not None
        headers = {"X-Internal-Key": self.state.internal_key}
        response = httpx.request(
            method, self.url(component) + path, headers=headers, timeout=15, **kwargs
        )
        if response.status_code >= 400:
            raise DemoFailed(
                f"{method} {component}{path} answered {response.status_code}: {response.text[:300]}"
            )
        return response

    def wait_for(self, what: str, check: Callable[[], bool], *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.5)
        raise DemoFailed(f"timed out after {timeout:.0f}s waiting for {what}")

    # -- the story ------------------------------------------------------------

    def deployables(self) -> list[Deployable]:
        found = []
        for folder in sorted((self.root / "examples").iterdir()):
            catalog = folder / "catalog-info.yaml"
            if catalog.exists():
                found.append(self._deployable(catalog, app_dir=folder))
        corpus = self.root.parent / "shared" / "corpus" / "catalog-info"
        for name in CORPUS_PICKS:
            if (corpus / name).exists():
                found.append(self._deployable(corpus / name, app_dir=None))
        return found

    @staticmethod
    def _deployable(path: Path, *, app_dir: Path | None) -> Deployable:
        try:
            component = read_catalog(path).component()
        except CatalogError as error:
            raise DemoFailed(f"{path} does not pass preflight: {error}") from error
        port = int(component.spec.get("port", 3000))
        stand_in = (
            _standins.with_app(component.name, port, app_dir, environment=ENVIRONMENT)
            if app_dir is not None
            else StandIn(component.name, port, environment=ENVIRONMENT)
        )
        return Deployable(path=path, owner=str(component.spec["owner"]), stand_in=stand_in)

    def start_stand_ins(self, services: list[Deployable]) -> None:
        for service in services:
            stand_in = service.stand_in
            stand_in.start(logs=self.logs)
            self.stand_ins.append(stand_in)
            self.say(f"{stand_in.name}: {stand_in.kind} on {stand_in.local_address} "
                     f"plays {stand_in.cluster_address}")  # fmt: skip
        try:
            _standins.wait_answering(self.stand_ins, timeout=30)
        except _standins.StandInError as error:
            raise DemoFailed(str(error)) from error

    def sign_in(self, email: str, password: str) -> str:
        """Authorization code + PKCE as the demo user; returns the access token."""
        assert self.state is not None
        try:
            return _signin.sign_in(
                self.url("identity"), internal_key=self.state.internal_key, org=DEMO_ORG,
                email=email, password=password, say=self.say,
            )  # fmt: skip
        except _signin.SignInError as error:
            raise DemoFailed(str(error)) from error

    def teardown(self) -> None:
        _standins.stop(self.stand_ins)
        stopped = self.stack.down()
        if stopped:
            self.say("stopped: " + ", ".join(stopped))


def run_demo(folder: Path, *, keep: bool, console: Console) -> int:
    root = Path.cwd()
    demo = Demo(folder, console, root=root)
    try:
        _story(demo)
    except DemoFailed as failure:
        console.print(f"[red]✗ demo failed:[/] {failure}")
        console.print(f"  logs: {demo.logs}")
        demo.teardown()
        return 1
    except BaseException:
        demo.teardown()
        raise
    if keep:
        console.print(f"The platform keeps running; `tawa dev down --dir {folder}` stops it.")
    else:
        with demo.step("Tear down the platform"):
            demo.teardown()
    console.print("[bold green]Demo complete.[/]")
    return 0


def _story(demo: Demo) -> None:
    with demo.step("Preflight the catalogs"):
        services = demo.deployables()
        for service in services:
            demo.tawa("preflight", str(service.path), show=False)
            demo.say(f"{service.path}: {service.name} (owner {service.owner}) passes preflight")

    with demo.step("Start a stand-in for each service's pod"):
        demo.logs.mkdir(parents=True, exist_ok=True)
        demo.start_stand_ins(services)

    with demo.step("Start the platform (tawa dev up)"):
        mapping = _standins.upstream_map(s.stand_in for s in services)
        demo.state = demo.stack.up(upstream_map=mapping, on_started=lambda c: demo.say(
            f"{c.name:<11} {c.url}"))  # fmt: skip

    with demo.step("Create the orgs, a user and fund the wallets"):
        password = secrets.token_urlsafe(18)
        for org in sorted({s.owner for s in services} | {DEMO_ORG}):
            demo.admin("POST", "identity", "/admin/orgs", json={"slug": org, "name": org})
            demo.say(f"org {org} created (its wallet gets 50,000 intro tokens)")
            demo.tawa("wallet", "buy", "200000", "--org", org, show=False)
        demo.admin(
            "POST", "identity", f"/admin/orgs/{DEMO_ORG}/members",
            json={"email": "dev@demo-org.example", "password": password, "role": "developer"},
        )  # fmt: skip
        demo.say("user dev@demo-org.example is a developer of demo-org")
        demo.tawa("wallet", "--org", DEMO_ORG)

    with demo.step("Deploy every service with tawa deploy"):
        for service in services:
            image = DEMO_IMAGE.format(name=service.name)
            # The first deploy is shown in full; the others in one line each.
            shown = service is services[0] or service.name == "hello-fastapi"
            if not shown:
                demo.say(
                    f"[dim]$ tawa deploy {service.path} --env {ENVIRONMENT} --image {image}[/]"
                )
            demo.tawa("deploy", str(service.path), "--env", ENVIRONMENT, "--image", image,
                      "--wait", "--timeout", "180", show=shown)  # fmt: skip
            if not shown:
                demo.say(f"  {service.name} is Ready")
        demo.kubectl("get", "tsvc", "--all-namespaces")

    with demo.step("Call hello-fastapi through the gateway"):
        token = demo.sign_in("dev@demo-org.example", password)
        gateway = demo.url("gateway")
        anonymous = httpx.get(f"{gateway}/api/hello-fastapi/me", timeout=15)
        demo.say(f"GET /api/hello-fastapi/me without a token → {anonymous.status_code}")
        if anonymous.status_code != 401:
            raise DemoFailed(
                f"an auth-required route answered {anonymous.status_code} without a token"
            )
        answer = httpx.get(f"{gateway}/api/hello-fastapi/me",
                           headers={"Authorization": f"Bearer {token}"}, timeout=15)  # fmt: skip
        demo.say(f"GET /api/hello-fastapi/me with the token → {answer.status_code} {answer.text}")
        if answer.status_code != 200 or answer.json().get("org") != DEMO_ORG:
            raise DemoFailed("the gateway did not forward the caller's identity to hello-fastapi")
        public = httpx.get(f"{gateway}/api/hello-fastapi/hello", headers={
            "Authorization": f"Bearer {token}"}, timeout=15)  # fmt: skip
        demo.say(f"GET /api/hello-fastapi/hello → {public.status_code} {public.text}")

    with demo.step("Show the gas charged"):
        ledger = f"/v1/wallets/wallet-{DEMO_ORG}/ledger"
        expected = 2 + 1  # /me costs 2, /hello costs 1 (the catalog's route gas)

        def spent() -> int:
            entries = demo.admin("GET", "wallet", ledger, params={"kind": "transaction"}).json()
            return sum(abs(int(e["amount"])) for e in entries.get("entries", []))

        demo.wait_for("the gateway's usage events to reach the wallet",
                      lambda: spent() >= expected, timeout=30)  # fmt: skip
        if (total := spent()) != expected:
            raise DemoFailed(f"the wallet charged {total} tokens of route gas, expected {expected}")
        demo.say(f"the 401 was free; the two 2xx calls cost {expected} tokens, charged once each")
        demo.tawa("gas", "--org", DEMO_ORG)

    with demo.step("Delete the services"):
        demo.kubectl("delete", "tsvc", "--all", "--all-namespaces", "--wait=true", "--timeout=120s")
        for service in services:
            namespace = namespace_for(service.name, ENVIRONMENT)
            for kind in ("deployments", "services", "secrets"):
                left = json.loads(
                    demo.kubectl("get", kind, "-n", namespace, "-o", "json", show=False)
                )
                if left.get("items"):
                    raise DemoFailed(f"{namespace} still has {kind} after the delete")
        demo.say("no Deployment, Service or Secret is left in any service namespace")
        routes = demo.admin("GET", "registry", "/v1/routes", params={"environment": ENVIRONMENT})
        if routes.json().get("routes"):
            raise DemoFailed("the registry still routes to a deleted service")
        gone = httpx.get(f"{demo.url('gateway')}/api/hello-fastapi/hello", timeout=15)
        demo.say(f"the registry has no routes; GET /api/hello-fastapi/hello → {gone.status_code}")
        if gone.status_code != 404:
            raise DemoFailed("the gateway still serves a deleted service's route")
