"""Run the wallet service as a real process (uvicorn) on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from tests.harness.redis_server import free_port


@dataclass
class WalletServer:
    url: str
    internal_key: str
    process: subprocess.Popen[bytes]
    database: str
    mongodb_uri: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Internal-Key": self.internal_key}


@contextmanager
def wallet_server(
    *, mongodb_uri: str = "memory://", extra_env: dict[str, str] | None = None
) -> Iterator[WalletServer]:
    """A wallet process; with a real ``mongodb_uri`` it gets its own database, dropped after."""
    port, key = free_port(), uuid.uuid4().hex
    database = f"tawa_wallet_test_{uuid.uuid4().hex[:8]}"
    env = (
        os.environ
        | {
            "TAWA_INTERNAL_KEY": key,
            "TAWA_MONGODB_URI": mongodb_uri,
            "TAWA_WALLET_DATABASE": database,
            "TAWA_LOG_LEVEL": "WARNING",
        }
        | (extra_env or {})
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "tawa.wallet", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    server = WalletServer(f"http://127.0.0.1:{port}", key, process, database, mongodb_uri)
    try:
        _wait_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if mongodb_uri != "memory://":
            import pymongo

            with pymongo.MongoClient(mongodb_uri) as client:
                client.drop_database(database)


def _wait_ready(server: WalletServer, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the wallet exited with code {server.process.returncode}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the wallet did not become ready on {server.url} within {timeout}s")
