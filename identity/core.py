"""The service's shared state: collections, Redis, hasher, keys, mail sender.

One :class:`Backend` is built at start and handed to every module. The
request handlers are synchronous functions (FastAPI runs them in its thread
pool) because pymongo and argon2 block; nothing here is async.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import pymongo
import redis
from argon2 import PasswordHasher

from tawa.identity.keys import KeyStore
from tawa.identity.mail import Sender
from tawa.identity.settings import IdentitySettings


@dataclass
class Backend:
    settings: IdentitySettings
    db: Any
    """The pymongo (or mongomock) database."""
    redis: redis.Redis
    sender: Sender
    hasher: PasswordHasher = field(init=False)
    keys: KeyStore = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.hasher = PasswordHasher(
            time_cost=s.argon2_time_cost,
            memory_cost=s.argon2_memory_kib,
            parallelism=s.argon2_parallelism,
        )
        self.keys = KeyStore(self.db["keys"], cache_seconds=s.key_cache_seconds)

    def prepare(self) -> None:
        """Indexes and the first signing key; safe to run on every start."""
        db = self.db
        db["users"].create_index("email", unique=True)
        db["orgs"].create_index("slug", unique=True)
        db["memberships"].create_index([("org_id", 1), ("bio_id", 1)], unique=True)
        db["memberships"].create_index("bio_id")
        db["refresh_tokens"].create_index("family")
        db["issued"].create_index("family")
        db["grants"].create_index([("consumer", 1), ("scope", 1)], unique=True)
        # MongoDB drops expired records itself. The in-process engine would scan
        # a whole collection on every insert to imitate that, so it keeps them.
        if not _is_in_process(db):
            for name in ("codes", "refresh_tokens", "issued", "one_time"):
                db[name].create_index("expires_at", expireAfterSeconds=0)
        self.keys.ensure_active()
        max_age = self.settings.signing_key_max_age_days * 86400
        if max_age and self.keys.active_age() > max_age:
            self.keys.rotate(retire_after=self.settings.access_token_ttl + 300)

    def database_is_up(self) -> bool:
        try:
            self.db.command("ping")
        except pymongo.errors.PyMongoError:
            return False
        return True


def _is_in_process(db: Any) -> bool:
    return type(db).__module__.startswith("mongomock")


def same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings, any characters (input is hostile)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(value: str) -> str:
    """SHA-256 of a high-entropy secret (codes, tokens, client secrets).

    Passwords never go through here: they get argon2id.
    """
    return hashlib.sha256(value.encode()).hexdigest()


def now() -> float:
    return time.time()


def is_duplicate(exc: Exception) -> bool:
    return isinstance(exc, pymongo.errors.DuplicateKeyError)
