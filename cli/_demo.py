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

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from rich.console import Console

from tawa.catalog import CatalogError, read_catalog
from tawa.cli._devstack import DevStack, StackState, free_port
from tawa.resource import cluster_url_for, namespace_for

DEMO_ORG = "demo-org"
ENVIRONMENT = "sandbox"
DEMO_IMAGE = "ghcr.io/tawa-examples/{name}:1.0.0"
STAND_IN = Path(__file__).with_name("_standin.py")
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
    name: str
    owner: str
    port: int
    app_dir: Path | None = None
    """For an example with source code: the folder ``uvicorn app:app`` runs in."""
    local_port: int = field(default_factory=free_port)

    @property
    def cluster_address(self) -> str:
        return cluster_url_for(self.name, ENVIRONMENT, port=self.port).split("://", 1)[1]


class Demo:
    def __init__(self, folder: Path, console: Console, *, root: Path) -> None:
        self.console = console
        self.root = root
        self.stack = DevStack(folder)
        self.state: StackState | None = None
        self.processes: list[subprocess.Popen[bytes]] = []
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
        has_app = app_dir is not None and (app_dir / "app.py").exists()
        return Deployable(
            path=path,
            name=component.name,
            owner=str(component.spec["owner"]),
            port=int(component.spec.get("port", 3000)),
            app_dir=app_dir if has_app else None,
        )

    def start_stand_ins(self, services: list[Deployable]) -> None:
        for service in services:
            if service.app_dir is not None:
                command = [sys.executable, "-m", "uvicorn", "app:app", "--app-dir",
                           str(service.app_dir), "--host", "127.0.0.1",
                           "--port", str(service.local_port)]  # fmt: skip
                kind = "its own app (uvicorn app:app)"
            else:
                command = [sys.executable, str(STAND_IN), str(service.local_port), service.name]
                kind = "a generic stand-in"
            log = (self.logs / f"standin-{service.name}.log").open("ab")
            self.processes.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=service.app_dir)
            )
            log.close()
            self.say(f"{service.name}: {kind} on 127.0.0.1:{service.local_port} "
                     f"plays {service.cluster_address}")  # fmt: skip
        for service in services:
            url = f"http://127.0.0.1:{service.local_port}/"
            self.wait_for(f"the stand-in of {service.name}", partial(_answers, url), timeout=30)

    def sign_in(self, email: str, password: str) -> str:
        """Authorization code + PKCE as the demo user; returns the access token."""
        client_id, redirect = "tawa-demo-console", "http://127.0.0.1:8765/callback"
        created = self.admin(
            "PUT", "identity", f"/admin/clients/{client_id}",
            json={"redirectUris": [redirect], "scopes": ["openid", "profile", "email"],
                  "grantTypes": ["authorization_code", "refresh_token"], "org": DEMO_ORG,
                  "name": "Tawa demo console"},
        )  # fmt: skip
        # A confidential client (a web console's backend): the secret is shown once.
        client_secret = str(created.json().get("clientSecret", ""))
        if not client_secret:
            rotated = self.admin("POST", "identity", f"/admin/clients/{client_id}/rotate")
            client_secret = str(rotated.json()["clientSecret"])
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        state = secrets.token_urlsafe(16)
        query = {
            "response_type": "code", "client_id": client_id, "redirect_uri": redirect,
            "scope": "openid profile email", "state": state,
            "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
        }  # fmt: skip
        identity = self.url("identity")
        with httpx.Client(base_url=identity, timeout=15) as browser:
            login = browser.post("/api/login", json={"email": email, "password": password})
            if login.status_code != 200:
                raise DemoFailed(f"login answered {login.status_code}: {login.text[:200]}")
            self.say(f"signed in as {email} (session cookie set)")
            answer = browser.get("/oauth/authorize", params=query)
            if answer.status_code == 200:  # the consent page: approve it
                form = dict(query, decision="allow", csrf=_hidden_field(answer.text, "csrf") or "")
                answer = browser.post("/oauth/authorize", data=form)
                self.say("the consent page was shown and approved")
            location = answer.headers.get("location", "")
            params = parse_qs(urlsplit(location).query)
            if answer.status_code not in (302, 303) or "code" not in params:
                raise DemoFailed(f"authorize answered {answer.status_code} {answer.text[:200]}")
            if params.get("state") != [state]:
                raise DemoFailed("authorize returned a different state")
            self.say("consented; authorization code received at the redirect URI")
            token = browser.post(
                "/oauth/token",
                data={"grant_type": "authorization_code", "code": params["code"][0],
                      "redirect_uri": redirect, "client_id": client_id,
                      "client_secret": client_secret, "code_verifier": verifier},
            )  # fmt: skip
        if token.status_code != 200:
            raise DemoFailed(f"the token endpoint answered {token.status_code}: {token.text[:200]}")
        body = token.json()
        id_token = "with" if "id_token" in body else "without"
        self.say(f"token endpoint: {body.get('token_type')} token {id_token} an ID token, "
                 f"expires in {body.get('expires_in')}s")  # fmt: skip
        return str(body["access_token"])

    def teardown(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        stopped = self.stack.down()
        if stopped:
            self.say("stopped: " + ", ".join(stopped))


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


def _hidden_field(html: str, name: str) -> str | None:
    marker = f'name="{name}"'
    at = html.find(marker)
    if at < 0:
        return None
    tail = html[at:]
    start = tail.find('value="')
    if start < 0:
        return None
    return tail[start + 7 : tail.find('"', start + 7)]


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
        mapping = {s.cluster_address: f"127.0.0.1:{s.local_port}" for s in services}
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
