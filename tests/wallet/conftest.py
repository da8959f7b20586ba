"""Fixtures of the wallet suites: the store to run against and a running wallet.

Every suite that touches storage runs on the in-process engine, and again on
a real MongoDB when ``TAWA_TEST_MONGODB_URI`` is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tawa.store import is_in_memory, mongo_client
from tawa.wallet.ledger import Ledger
from tests.harness.wallet_server import WalletServer, wallet_server

MONGODB_URI = os.environ.get("TAWA_TEST_MONGODB_URI", "")
STORES = ["memory://"] + ([MONGODB_URI] if MONGODB_URI else [])
"""Without a real MongoDB the suites run once; ``test_store.py`` says it was skipped."""


@pytest.fixture(params=STORES, ids=lambda p: "memory" if p == "memory://" else "mongodb")
def store_uri(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(
    scope="module", params=STORES, ids=lambda p: "memory" if p == "memory://" else "mongodb"
)
def wallet_srv(request: pytest.FixtureRequest) -> Iterator[WalletServer]:
    """A wallet process shared by a module; tests keep apart by using their own orgs."""
    with wallet_server(mongodb_uri=str(request.param)) as server:
        yield server


@pytest.fixture
def org() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


class Clock:
    """A settable UTC clock for lease and hour arithmetic."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def database(store_uri: str) -> Iterator[Any]:
    """A fresh database on the store under test, dropped afterwards."""
    client = mongo_client(store_uri)
    name = f"tawa_wallet_unit_{uuid.uuid4().hex[:8]}"
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()


@pytest.fixture
def ledger(database: Any, store_uri: str, clock: Clock) -> Ledger:
    ledger = Ledger(
        database,
        thread_safe=not is_in_memory(store_uri),
        lease_seconds=15,
        replay_wait_seconds=0.05,
        clock=clock,
    )
    ledger.ensure_indexes()
    return ledger
