"""Run the identity service as a real process (``python -m tawa.identity``) on
a free loopback port, with its stderr captured to a file for log checks."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.harness.redis_server import free_port
from tests.harness.service_process import start_service, stop, wait_ready

CHEAP_ARGON2 = {
    "TAWA_ARGON2_TIME_COST": "1",
    "TAWA_ARGON2_MEMORY_KIB": "1024",
    "TAWA_ARGON2_PARALLELISM": "1",
}


@dataclass
class IdentityServer:
    url: str
    internal_key: str
    stderr: Path
    outbox: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")


@contextmanager
def identity_server(
    redis_url: str, *, internal_key: str = "harness-internal-key", env: dict[str, str] | None = None
) -> Iterator[IdentityServer]:
    """Start Bio-ID (cheap argon2, insecure cookies for http) and wait for /healthz."""
    workdir = Path(tempfile.mkdtemp(prefix="tawa-identity-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "TAWA_IDENTITY_ISSUER": url,
        "TAWA_INTERNAL_KEY": internal_key,
        "TAWA_REDIS_URL": redis_url,
        "TAWA_MONGODB_URI": os.environ.get("TAWA_TEST_MONGODB_URI", "memory://"),
        "TAWA_COOKIE_SECURE": "false",
        "TAWA_OUTBOX_PATH": str(workdir / "outbox.jsonl"),
        "TAWA_WALLET_URL": "",
        **CHEAP_ARGON2,
        **(env or {}),
    }
    stderr = workdir / "stderr.log"
    with stderr.open("wb") as sink:
        process = start_service("identity", port, environment, stdout=sink, stderr=sink)
    server = IdentityServer(url, internal_key, stderr, workdir / "outbox.jsonl", process)
    try:
        wait_ready(url, process, what="the identity service", timeout=30, logs=server.log_text)
        yield server
    finally:
        stop(process)
