"""The embedded platform behind ``tawa dev up``: every component a real process.

``up`` starts, in order, a Redis server, the local Kubernetes API, the wallet,
identity, registry and gateway services and the operator, each on a free
loopback port, waits until each answers, and records what it started in
``state.json`` inside the state folder (logs go to ``logs/`` beside it).
``down`` stops exactly the processes recorded there, checking each one's
command line first so that a recycled pid is never killed. Nothing here
imports another component: they are started as ``python -m tawa.<name>``.

Given the kubeconfig of an existing cluster, no local API is started and the
operator works against that cluster. ``stop``, ``start``, ``pause`` and
``resume`` act on one component at a time, for failure drills: a restarted
component gets the same command, port and environment as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from tawa.resource import crd_manifest

SERVICES = ("wallet", "identity", "registry", "gateway")
STATE_FILE = "state.json"


class DevStackError(Exception):
    """A component did not start, or the state folder is not usable."""


@dataclass
class Component:
    name: str
    pid: int
    url: str
    log: str
    command: list[str]
    started: int = 0
    """Kernel start time of ``pid`` (clock ticks since boot), to tell pid reuse."""


@dataclass
class StackState:
    folder: str
    internal_key: str
    kubeconfig: str
    mongodb: str
    """``memory`` for the in-process engine, else the (credential-free) host."""
    components: dict[str, Component] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        return {name: c.url for name, c in self.components.items()}

    def env(self) -> dict[str, str]:
        """Variables that point the CLI and the services at this stack."""
        urls = self.urls
        env = {
            "KUBECONFIG": self.kubeconfig,
            "TAWA_INTERNAL_KEY": self.internal_key,
            "TAWA_REDIS_URL": urls.get("redis", ""),
            "TAWA_REDIS_ADMIN_URL": urls.get("redis", ""),
        }
        for service in SERVICES:
            if service in urls:
                env[f"TAWA_{service.upper()}_URL"] = urls[service]
        if "identity" in urls:
            env["TAWA_IDENTITY_ISSUER"] = urls["identity"]
            env["TAWA_IDENTITY_JWKS_URL"] = f"{urls['identity']}/.well-known/jwks.json"
        return env

    def save(self) -> None:
        path = Path(self.folder) / STATE_FILE
        payload = asdict(self)
        path.write_text(json.dumps(payload, indent=2))
        path.chmod(0o600)

    @classmethod
    def load(cls, folder: Path) -> StackState | None:
        path = folder / STATE_FILE
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        components = {k: Component(**v) for k, v in raw.pop("components").items()}
        return cls(components=components, **raw)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(command: list[str], *, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    try:
        return subprocess.Popen(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    finally:
        handle.close()


def _wait_until(check: Callable[[], bool], *, what: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
    raise DevStackError(
        f"{what} did not become ready within {timeout:.0f}s; last log lines:\n" + "\n".join(tail)
    )


def http_ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def redis_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class DevStack:
    """Starts and stops the embedded platform recorded in one state folder."""

    def __init__(
        self, folder: Path, *, mongodb_uri: str | None = None, kubeconfig: Path | None = None
    ) -> None:
        self.folder = folder.resolve()
        self.logs = self.folder / "logs"
        self.mongodb_uri = mongodb_uri
        self.kubeconfig = kubeconfig.resolve() if kubeconfig else None
        """An existing cluster's kubeconfig; ``None`` starts the local API."""
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith("TAWA_")}
        self._extra_env: dict[str, dict[str, str]] = {}
        self._envs: dict[str, dict[str, str]] = {}
        """The environment each component was launched with, for ``start``."""

    def up(
        self,
        *,
        upstream_map: dict[str, str] | None = None,
        on_started: Callable[[Component], None] = lambda c: None,
        timeout: float = 60.0,
        extra_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> StackState:
        """Start every component; ``extra_env`` adds variables per component name."""
        if (existing := StackState.load(self.folder)) and self.alive(existing):
            raise DevStackError(
                f"a stack is already running from {self.folder}; run `tawa dev down`"
            )
        self.logs.mkdir(parents=True, exist_ok=True)
        self._extra_env = {name: dict(env) for name, env in (extra_env or {}).items()}
        state = StackState(
            folder=str(self.folder),
            internal_key=secrets.token_urlsafe(32),
            kubeconfig=str(self.kubeconfig or self.folder / "kubeconfig"),
            mongodb="memory" if not self.mongodb_uri else _redact_uri(self.mongodb_uri),
        )
        try:
            self._start_redis(state, on_started, timeout)
            if self.kubeconfig is None:
                self._start_localkube(state, on_started, timeout)
            self._apply_crd(state)
            # Every service learns every other's URL, so ports are chosen first.
            ports = {service: free_port() for service in SERVICES}
            for service, port in ports.items():
                url = f"http://127.0.0.1:{port}"
                state.components[service] = Component(service, 0, url, str(self._log(service)), [])
            for service, port in ports.items():
                self._start_service(service, port, state, upstream_map or {}, on_started, timeout)
            self._start_operator(state, upstream_map or {}, on_started, timeout)
        except BaseException:
            state.save()
            self.down(state)
            raise
        state.save()
        return state

    # Each starter records the component before waiting on it, so a failed
    # start still gets cleaned up by ``down``.

    def _start_redis(
        self, state: StackState, on_started: Callable[[Component], None], timeout: float
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise DevStackError("redis-server is not installed; run `make setup`")
        port = free_port()
        data = self.folder / "redis"
        data.mkdir(exist_ok=True)
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(data)]  # fmt: skip
        self._launch("redis", command, f"redis://127.0.0.1:{port}/0", state, self.base_env)
        _wait_until(
            lambda: redis_ready(port), what="redis", log=self._log("redis"), timeout=timeout
        )
        on_started(state.components["redis"])

    def _start_localkube(
        self, state: StackState, on_started: Callable[[Component], None], timeout: float
    ) -> None:
        port = free_port()
        command = [sys.executable, "-m", "tawa.localkube", "--port", str(port),
                   "--kubeconfig", state.kubeconfig]  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        self._launch("kubernetes", command, url, state, self.base_env)
        _wait_until(
            lambda: http_ready(f"{url}/version"), what="the local Kubernetes API",
            log=self._log("kubernetes"), timeout=timeout,
        )  # fmt: skip
        on_started(state.components["kubernetes"])

    def _apply_crd(self, state: StackState) -> None:
        manifest = self.folder / "tawaservices.crd.json"
        manifest.write_text(json.dumps(crd_manifest()))
        kubectl = shutil.which("kubectl", path=os.environ.get("PATH"))
        if kubectl is None:
            raise DevStackError(
                "kubectl was not found on PATH: run `make setup`, which fetches one"
            )
        result = subprocess.run(
            [kubectl, "apply", "-f", str(manifest)],
            env={**self.base_env, "KUBECONFIG": state.kubeconfig},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise DevStackError(
                f"kubectl apply of the TawaService CRD failed: {result.stderr.strip()}"
            )

    def _service_env(self, state: StackState, upstream_map: dict[str, str]) -> dict[str, str]:
        env = {**self.base_env, **state.env(), "TAWA_LOG_JSON": "true"}
        # Loopback is plain HTTP: a Secure session cookie would never come back.
        env["TAWA_COOKIE_SECURE"] = "false"
        if self.mongodb_uri:
            env["TAWA_MONGODB_URI"] = self.mongodb_uri
        if upstream_map:
            env["TAWA_UPSTREAM_MAP"] = ",".join(f"{k}={v}" for k, v in upstream_map.items())
        return env

    def _start_service(
        self,
        service: str,
        port: int,
        state: StackState,
        upstream_map: dict[str, str],
        on_started: Callable[[Component], None],
        timeout: float,
    ) -> None:
        url = f"http://127.0.0.1:{port}"
        command = [
            sys.executable,
            "-m",
            f"tawa.{service}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        self._launch(service, command, url, state, self._service_env(state, upstream_map))
        _wait_until(
            lambda: http_ready(f"{url}/readyz"), what=f"the {service} service",
            log=self._log(service), timeout=timeout,
        )  # fmt: skip
        on_started(state.components[service])

    def _start_operator(
        self,
        state: StackState,
        upstream_map: dict[str, str],
        on_started: Callable[[Component], None],
        timeout: float,
    ) -> None:
        port = free_port()
        url = f"http://127.0.0.1:{port}/healthz"
        redis = state.urls["redis"].split("://", 1)[1].split("/", 1)[0]
        env = {
            **self._service_env(state, upstream_map),
            # No pod runs on the local API: health comes from the stand-ins.
            "TAWA_HEALTH_MODE": "http",
            "TAWA_HELM": _helm_binary(),
            "TAWA_HELM_HOME": str(self.folder / "helm"),
            "TAWA_REDIS_HOST": redis,
            # No MongoDB server here: its user management is emulated in memory.
            "TAWA_MONGODB_ADMIN_URI": self.mongodb_uri or "memory://",
            "TAWA_RETRY_DELAY": "3",
        }
        command = [sys.executable, "-m", "tawa.operator", "--standalone", "--liveness", url]
        self._launch("operator", command, url, state, env)
        _wait_until(
            lambda: http_ready(url), what="the operator", log=self._log("operator"), timeout=timeout
        )
        on_started(state.components["operator"])

    def _launch(
        self, name: str, command: list[str], url: str, state: StackState, env: dict[str, str]
    ) -> None:
        env = {**env, **self._extra_env.get(name, {})}
        process = _spawn(command, log=self._log(name), env=env)
        self._envs[name] = env
        state.components[name] = Component(
            name, process.pid, url, str(self._log(name)), command, _start_time(process.pid)
        )
        state.save()

    def _log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def alive(self, state: StackState) -> bool:
        return any(_is_ours(c) for c in state.components.values())

    def down(self, state: StackState | None = None, *, timeout: float = 10.0) -> list[str]:
        """Stop what ``up`` started (newest first); the names of those stopped."""
        state = state or StackState.load(self.folder)
        if state is None:
            return []
        stopped = []
        for component in reversed(list(state.components.values())):
            if _is_ours(component):
                _terminate(component.pid, timeout=timeout)
                stopped.append(component.name)
        (self.folder / STATE_FILE).unlink(missing_ok=True)
        return stopped

    def status(self) -> dict[str, dict[str, object]]:
        state = StackState.load(self.folder)
        if state is None:
            return {}
        report: dict[str, dict[str, object]] = {}
        for name, component in state.components.items():
            running = _is_ours(component)
            healthy = running and _answers(component)
            report[name] = {"pid": component.pid, "url": component.url, "running": running,
                            "healthy": healthy, "log": component.log}  # fmt: skip
        return report

    # -- one component at a time (failure drills) ------------------------------

    def stop(self, state: StackState, name: str, *, kill: bool = False) -> None:
        """Stop one component: SIGTERM (grace, then SIGKILL), or SIGKILL at once."""
        component = self._running(state, name)
        _terminate(component.pid, timeout=10.0, sig=signal.SIGKILL if kill else signal.SIGTERM)

    def start(self, state: StackState, name: str, *, timeout: float = 60.0) -> Component:
        """Start a stopped component again: same command, port and environment."""
        component = state.components[name]
        if _is_ours(component):
            raise DevStackError(f"{name} is still running (pid {component.pid})")
        if name not in self._envs:
            raise DevStackError(f"{name} was not started by this DevStack, so it cannot restart it")
        self._launch(name, component.command, component.url, state, self._envs[name])
        restarted = state.components[name]
        _wait_until(
            lambda: _answers(restarted, ready=True), what=f"the restarted {name}",
            log=self._log(name), timeout=timeout,
        )  # fmt: skip
        return restarted

    def pause(self, state: StackState, name: str) -> None:
        """Freeze one component (SIGSTOP): its port still accepts, nothing answers."""
        os.killpg(self._running(state, name).pid, signal.SIGSTOP)

    def resume(self, state: StackState, name: str) -> None:
        os.killpg(self._running(state, name).pid, signal.SIGCONT)

    def _running(self, state: StackState, name: str) -> Component:
        component = state.components.get(name)
        if component is None or not _is_ours(component):
            raise DevStackError(f"{name} is not running from {self.folder}")
        return component


def _answers(component: Component, *, ready: bool = False) -> bool:
    """Whether a component answers its health check (its readiness check if ``ready``)."""
    if component.name == "redis":
        return redis_ready(int(component.url.rsplit(":", 1)[1].split("/")[0]))
    if component.name == "kubernetes":
        return http_ready(f"{component.url}/version")
    if component.name == "operator":
        return http_ready(component.url)
    return http_ready(f"{component.url}/{'readyz' if ready else 'healthz'}")


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name; ``None`` when it is gone.

    The command name (field 2) may hold spaces and parentheses, so the fields
    are taken after its last ``)``: index 0 is the state, 19 the start time.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _start_time(pid: int) -> int:
    """Kernel start time of ``pid`` (clock ticks since boot); 0 when it is gone."""
    fields = _stat(pid)
    return int(fields[19]) if fields else 0


def _is_ours(component: Component) -> bool:
    """Whether ``component.pid`` is still the process we started (not a reused pid)."""
    if component.pid <= 0 or component.started == 0:
        return False
    fields = _stat(component.pid)
    return fields is not None and fields[0] != "Z" and int(fields[19]) == component.started


def _terminate(pid: int, *, timeout: float, sig: signal.Signals = signal.SIGTERM) -> None:
    """Signal ``pid``'s process group, SIGKILL it after ``timeout``, wait until it is gone."""
    try:
        os.killpg(pid, sig)
        os.killpg(pid, signal.SIGCONT)  # a paused process must wake up to see SIGTERM
    except ProcessLookupError:
        return
    if _gone(pid, timeout=timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _gone(pid, timeout=5.0)


def _gone(pid: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        # Reap it if it is our child (it is when up and down run in one process).
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if _exited(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _exited(pid: int) -> bool:
    """Gone, or a zombie: it has exited and only waits for its parent (or init) to reap it."""
    fields = _stat(pid)
    return fields is None or fields[0] == "Z"


def _helm_binary() -> str:
    """The helm ``make setup`` fetched, else the one on PATH."""
    found = os.environ.get("TAWA_HELM") or shutil.which("helm")
    if found:
        return found
    bundled = Path(__file__).resolve().parent.parent / ".tools" / "bin" / "helm"
    if bundled.exists():
        return str(bundled)
    raise DevStackError("helm was not found: run `make setup` or set TAWA_HELM")


def _redact_uri(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    host = rest.rsplit("@", 1)[-1]
    return f"{scheme}://{host}"
