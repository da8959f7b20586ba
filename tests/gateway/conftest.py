"""Fixtures of the gateway suites: real processes and servers on loopback.

The gateway, the registry and Redis run as real processes; the upstream, the
JWKS of the identity service and (until the real wallet is used) the wallet
are small HTTP servers in threads. Tokens are minted here with joserfc.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.harness.redis_server import free_port

INTERNAL_KEY = "test-internal-key"
AUDIENCE = "tawa"
ROOT = Path(__file__).resolve().parents[2]


# -- processes ---------------------------------------------------------------------------


@dataclass
class Process:
    """``python -m tawa.<component>`` on a free loopback port."""

    component: str
    env: dict[str, str]
    args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, ready_path: str = "/healthz") -> Process:
        env = {**os.environ, "TAWA_INTERNAL_KEY": INTERNAL_KEY, "TAWA_LOG_JSON": "true", **self.env}
        self.log = Path(f"/tmp/tawa-test-{self.component}-{self.port}.log")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", f"tawa.{self.component}", "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=out,
                cwd=ROOT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.component} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + ready_path, timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.component} did not become ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.log is not None and not os.environ.get("TAWA_KEEP_TEST_LOGS"):
            self.log.unlink(missing_ok=True)


# -- threaded HTTP servers -----------------------------------------------------------------


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client (the gateway) hanging up on a slow answer is expected here


class Server:
    """A ThreadingHTTPServer with a handler class, on a free (or given) port."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int | None = None) -> None:
        self.handler = handler
        self.port = port or free_port()
        self.httpd: _Quiet | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.httpd = _Quiet(("127.0.0.1", self.port), self.handler)
        self.httpd.owner = self  # type: ignore[attr-defined]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class EchoHandler(_Handler):
    """Echoes the request; ``/status/NNN`` answers NNN, ``/slow`` sleeps, ``/stream`` trickles."""

    def _any(self) -> None:
        body = self.read_body()
        self.server.owner.seen.append((self.command, self.path, dict(self.headers)))  # type: ignore[attr-defined]
        if "/slow" in self.path:
            time.sleep(3)
        if "/stream" in self.path:
            self._stream()
            return
        status = 200
        if "/status/" in self.path:
            status = int(self.path.split("/status/")[1][:3])
        self.send_json(
            status,
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("latin-1"),
            },
        )

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(3):
            chunk = f"chunk-{i}\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
            time.sleep(0.4)
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any


class Upstream(Server):
    def __init__(self) -> None:
        super().__init__(EchoHandler)
        self.seen: list[tuple[str, str, dict[str, str]]] = []


class JwksHandler(_Handler):
    def do_GET(self) -> None:
        self.send_json(200, {"keys": [self.server.owner.key.as_dict(private=False)]})  # type: ignore[attr-defined]


class Issuer(Server):
    """The identity service's JWKS, and tokens signed with its key."""

    def __init__(self) -> None:
        super().__init__(JwksHandler)
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})

    @property
    def issuer(self) -> str:
        return self.url

    def token(self, *, key: RSAKey | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "user-1",
            "bioId": "bio-1",
            "email": "ada@example.com",
            "orgSlug": "acme",
            "orgId": "org-acme",
            "orgs": [
                {"orgSlug": "acme", "orgId": "org-acme", "roles": ["member"]},
                {"orgSlug": "globex", "orgId": "org-globex", "roles": ["billing"]},
            ],
            "roles": ["member"],
            "permissions": {"scopes": ["orders:read"]},
            "userType": "user",
            "client_id": "web-sandbox",
            "scope": "openid profile",
            "iat": now,
            "exp": now + 600,
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, key or self.key)


# -- the wallet stand-in ---------------------------------------------------------------------


class WalletHandler(_Handler):
    def _wallet(self) -> FakeWallet:
        return self.server.owner  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:
        org = self.path.rsplit("/", 1)[-1].removeprefix("wallet-")
        wallet = self._wallet()
        if org not in wallet.spendable:
            self.send_json(404, {"error": {"code": "not_found"}})
            return
        self.send_json(
            200, {"walletId": f"wallet-{org}", "org": org, "apiSpendable": wallet.spendable[org]}
        )

    def do_POST(self) -> None:
        events = json.loads(self.read_body())["events"]
        self.send_json(200, {"results": [self._wallet().charge(event) for event in events]})


class FakeWallet(Server):
    """``POST /v1/usage`` and ``GET /v1/wallets/{id}`` as the contract says; stoppable."""

    def __init__(self) -> None:
        super().__init__(WalletHandler)
        self.lock = threading.Lock()
        self.spendable: dict[str, int] = {}
        self.ledger: dict[str, dict[str, Any]] = {}

    def charge(self, event: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if event["id"] in self.ledger:
                return {"id": event["id"], "status": "duplicate"}
            if self.spendable.get(event["org"], 0) < event["amount"]:
                return {"id": event["id"], "status": "insufficient_funds"}
            self.spendable[event["org"]] -= event["amount"]
            self.ledger[event["id"]] = event
            return {"id": event["id"], "status": "charged", "entryId": uuid.uuid4().hex}


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    server = Issuer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def registry(redis_srv: Any) -> Iterator[Process]:
    process = Process("registry", {"TAWA_REDIS_URL": redis_srv.url}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def wallet() -> Iterator[FakeWallet]:
    server = FakeWallet().start()
    yield server
    server.stop()


def gateway_env(
    *, registry: Process, issuer: Issuer, wallet_url: str, redis_url: str, **extra: str
) -> dict[str, str]:
    return {
        "TAWA_REGISTRY_URL": registry.url,
        "TAWA_REDIS_URL": redis_url,
        "TAWA_IDENTITY_URL": issuer.url,
        "TAWA_WALLET_URL": wallet_url,
        "TAWA_UPSTREAM_READ_TIMEOUT": "1.0",
        "TAWA_USAGE_FLUSH_SECONDS": "0.1",
        "TAWA_BALANCE_REFRESH_SECONDS": "0.5",
        **extra,
    }


def put_service(
    registry: Process,
    name: str,
    *,
    upstream: str,
    routes: list[dict[str, Any]],
    owner: str = "acme",
    environment: str = "sandbox",
) -> int:
    body = {
        "owner": owner,
        "tier": "nano",
        "upstream": upstream,
        "healthPath": "/health",
        "routes": routes,
        "metadata": {},
    }
    response = httpx.put(
        f"{registry.url}/v1/services/{environment}/{name}",
        json=body,
        headers={"X-Internal-Key": INTERNAL_KEY},
    )
    response.raise_for_status()
    return int(response.json()["version"])


def delete_service(registry: Process, name: str, *, environment: str = "sandbox") -> None:
    response = httpx.delete(
        f"{registry.url}/v1/services/{environment}/{name}",
        headers={"X-Internal-Key": INTERNAL_KEY},
    )
    response.raise_for_status()


def raw_request(port: int, request: bytes, *, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send bytes as they are (no client-side path clean-up); the status and the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):  # until the server closes (send Connection: close)
            data += chunk
    status_line = data.split(b"\r\n", 1)[0]
    return int(status_line.split(b" ")[1]), data


def wait_for(check: Callable[[], bool], *, timeout: float, interval: float = 0.02) -> float:
    """Seconds until ``check()`` held; fails the test after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")
