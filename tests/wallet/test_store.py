"""Whether the wallet suites also ran against a real MongoDB.

Store-parametrized tests get a ``mongodb`` twin when ``TAWA_TEST_MONGODB_URI``
is set; otherwise this one skip says so, instead of one skip per test.
"""

from __future__ import annotations

import pymongo
import pytest

from tests.wallet.conftest import MONGODB_URI


@pytest.mark.skipif(not MONGODB_URI, reason="TAWA_TEST_MONGODB_URI is not set: no real MongoDB")
def test_the_real_mongodb_answers() -> None:
    with pymongo.MongoClient(MONGODB_URI, serverSelectionTimeoutMS=5000) as client:
        assert client.admin.command("ping")["ok"] == 1
