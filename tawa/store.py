"""MongoDB client factory for the companion services.

Production passes ``TAWA_MONGODB_URI`` and gets a real ``pymongo`` client.
Without it (local development, tests on machines without a MongoDB server)
the services get ``mongomock``'s in-process engine, which speaks the pymongo
API. Keep to features that engine supports: no change streams.
"""

from __future__ import annotations

import os
from typing import Any

import pymongo

IN_MEMORY = "memory://"


def mongo_client(uri: str | None = None) -> Any:
    """A pymongo-compatible client for ``uri`` (or ``TAWA_MONGODB_URI``)."""
    uri = uri or os.environ.get("TAWA_MONGODB_URI") or IN_MEMORY
    if uri == IN_MEMORY:
        # The pinned distribution is ``mongomock-ng``, which installs as ``mongomock_ng``.
        import mongomock_ng

        return mongomock_ng.MongoClient(tz_aware=True)
    return pymongo.MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000)


def is_in_memory(uri: str | None = None) -> bool:
    return (uri or os.environ.get("TAWA_MONGODB_URI") or IN_MEMORY) == IN_MEMORY
