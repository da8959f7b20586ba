"""Start the registry (``python -m tawa.registry``) on a free loopback port.

The process gets the in-process MongoDB engine (or the real server named by
``TAWA_TEST_MONGODB_URI``, with a database of its own) and the Redis URL it is
given, so each server starts empty. Other suites (the gateway's) can use it too.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.harness.redis_server import free_port
from tests.harness.service_process import start_service, stop, wait_ready


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
    process = start_service("registry", port, environment, stderr=log)
    server = RegistryServer(f"http://127.0.0.1:{port}", internal_key, process, log)
    try:
        wait_ready(server.url, process, what="the registry", logs=server.logs)
        yield server
    finally:
        stop(process)
        log.close()
