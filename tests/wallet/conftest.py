"""Fixtures of the wallet suites: the store to run against and a running wallet.

Every suite that touches storage runs on the in-process engine, and again on
a real MongoDB when ``TAWA_TEST_MONGODB_URI`` is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.harness.wallet_server import WalletServer, wallet_server

MONGODB_URI = os.environ.get("TAWA_TEST_MONGODB_URI", "")
STORES = [
    "memory://",
    pytest.param(
        MONGODB_URI or "mongodb://unset",
        id="mongodb",
        marks=pytest.mark.skipif(not MONGODB_URI, reason="TAWA_TEST_MONGODB_URI is not set"),
    ),
]


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
