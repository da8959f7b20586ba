"""Run the wallet service as a real process (uvicorn) on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.harness.redis_server import free_port
from tests.harness.service_process import start_service, stop, wait_ready


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
    process = start_service("wallet", port, env)
    server = WalletServer(f"http://127.0.0.1:{port}", key, process, database, mongodb_uri)
    try:
        wait_ready(server.url, process, what="the wallet", path="/readyz")
        yield server
    finally:
        stop(process)
        if mongodb_uri != "memory://":
            import pymongo

            with pymongo.MongoClient(mongodb_uri) as client:
                client.drop_database(database)
