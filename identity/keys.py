"""RS256 signing keys kept in MongoDB, with rotation that breaks no token.

One key is ``active`` (it signs); keys rotated out stay in the JWKS until
every token they signed has expired (``retire_at``), so verifiers holding a
token from before the rotation can still check it. The private halves live in
the ``keys`` collection.

TODO: encrypt private keys at rest with a KMS-held key (needs a KMS choice for
self-hosted installs); today the database's own access control guards them.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

ALGORITHM = "RS256"


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    key: RSAKey


class KeyStore:
    """Reads the keys from MongoDB, cached for a few seconds per process."""

    def __init__(self, collection: Any, *, cache_seconds: float = 30.0) -> None:
        self._keys = collection
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, list[dict[str, Any]]] | None = None
        self._lock = threading.Lock()
        self._imported: dict[str, RSAKey] = {}

    def ensure_active(self) -> None:
        """Create the first signing key if there is none."""
        if self._keys.find_one({"status": "active"}) is None:
            self._keys.insert_one(_new_key_document())
            self._cached = None

    def active_age(self) -> float:
        """Seconds since the newest active key was made."""
        newest = self._keys.find_one({"status": "active"}, sort=[("created_at", -1)])
        return time.time() - newest["created_at"] if newest else float("inf")

    def rotate(self, *, retire_after: float) -> str:
        """Make a new active key; the old one stays published for ``retire_after`` s."""
        document = _new_key_document()
        self._keys.insert_one(document)
        self._keys.update_many(
            {"status": "active", "_id": {"$ne": document["_id"]}},
            {"$set": {"status": "previous", "retire_at": time.time() + retire_after}},
        )
        self._cached = None
        return str(document["_id"])

    def signing_key(self) -> SigningKey:
        active = [d for d in self._documents() if d["status"] == "active"]
        if not active:
            raise RuntimeError("no active signing key; call ensure_active() at start")
        newest = max(active, key=lambda d: d["created_at"])
        return SigningKey(kid=newest["_id"], key=self._import(newest))

    def public_key(self, kid: str) -> RSAKey | None:
        for document in self._documents():
            if document["_id"] == kid:
                return self._import(document)
        return None

    def jwks(self) -> dict[str, Any]:
        keys = []
        for document in self._documents():
            public = self._import(document).as_dict(private=False)
            keys.append({**public, "kid": document["_id"], "use": "sig", "alg": ALGORITHM})
        return {"keys": keys}

    def sign(self, claims: dict[str, Any], *, typ: str = "JWT") -> str:
        signing = self.signing_key()
        header = {"alg": ALGORITHM, "kid": signing.kid, "typ": typ}
        return jwt.encode(header, claims, signing.key, algorithms=[ALGORITHM])

    def _import(self, document: dict[str, Any]) -> RSAKey:
        key = self._imported.get(document["_id"])
        if key is None:
            key = self._imported[document["_id"]] = RSAKey.import_key(document["private"])
        return key

    def _documents(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            if self._cached is None or now - self._cached[0] > self._cache_seconds:
                published = self._keys.find(
                    {"$or": [{"status": "active"}, {"retire_at": {"$gt": time.time()}}]}
                )
                self._cached = (now, list(published))
            return self._cached[1]


def _new_key_document() -> dict[str, Any]:
    kid = f"bio-{time.strftime('%Y%m%d')}-{secrets.token_hex(4)}"
    key = RSAKey.generate_key(2048, parameters={"kid": kid})
    return {
        "_id": kid,
        "status": "active",
        "created_at": time.time(),
        "private": key.as_dict(private=True),
    }
