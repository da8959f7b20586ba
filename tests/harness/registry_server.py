"""Start the registry (``python -m tawa.registry``) on a free loopback port.

The process gets the in-process MongoDB engine (or the real server named by
``TAWA_TEST_MONGODB_URI``, with a database of its own) and the Redis URL it is
given, so each server starts empty. Other suites (the gateway's) can use it too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from tests.harness.redis_server import free_port


@dataclass
class RegistryServer:
    url: str
    internal_key: str
    process: subprocess.Popen[bytes]
    log: tempfile._TemporaryFileWrapper[bytes]
    """The server's stderr (a file, so a chatty server never blocks on a full pipe)."""

    def logs(self) -> str:
        self.log.flush()
        with open(self.log.name, "rb") as stream:
            return stream.read().decode(errors="replace")

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Internal-Key": self.internal_key}


@contextmanager
def registry_server(
    *, redis_url: str, internal_key: str = "registry-test-key", **env: str
) -> Iterator[RegistryServer]:
    port = free_port()
    environment = {
        **os.environ,
        "TAWA_INTERNAL_KEY": internal_key,
        "TAWA_REDIS_URL": redis_url,
        "TAWA_MONGODB_URI": os.environ.get("TAWA_TEST_MONGODB_URI") or "memory://",
        "TAWA_REGISTRY_DATABASE": f"tawa_registry_test_{uuid.uuid4().hex[:8]}",
        "TAWA_LOG_LEVEL": "WARNING",
        **env,
    }
    log = tempfile.NamedTemporaryFile(prefix="tawa-registry-", suffix=".log")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "tawa.registry", "--host", "127.0.0.1", "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    server = RegistryServer(f"http://127.0.0.1:{port}", internal_key, process, log)
    try:
        _wait_healthy(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_healthy(server: RegistryServer, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            errors = server.logs()
            raise RuntimeError(f"the registry exited with {server.process.returncode}: {errors}")
        try:
            if httpx.get(server.url + "/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the registry did not answer on {server.url} within {timeout}s")
