"""Server-side browser sessions in Redis.

The cookie holds only a random id; Redis holds the session under the id's
SHA-256, so a dump of Redis yields no usable cookie. A session ends after
``session_idle_seconds`` without use (the key's TTL, renewed on each use) or
``session_absolute_seconds`` after login, whichever comes first. Login always
issues a fresh id (rotation), so an id planted before login is worthless.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from tawa.identity.core import Backend, digest, new_secret, now


@dataclass
class Session:
    bio_id: str
    created_at: float
    auth_time: float
    mfa_pending: bool
    csrf: str


def _key(raw: str) -> str:
    return f"bio:session:{digest(raw)}"


def _index(bio_id: str) -> str:
    return f"bio:user-sessions:{bio_id}"


def start(backend: Backend, bio_id: str, *, mfa_pending: bool, replaces: str | None) -> str:
    """A new session id for ``bio_id``; the session it replaces (if any) ends."""
    if replaces:
        end(backend, replaces)
    raw = new_secret()
    session = Session(
        bio_id=bio_id,
        created_at=now(),
        auth_time=now(),
        mfa_pending=mfa_pending,
        csrf=new_secret(16),
    )
    ttl = backend.settings.session_idle_seconds
    pipe = backend.redis.pipeline()
    pipe.set(_key(raw), json.dumps(asdict(session)), ex=ttl)
    pipe.sadd(_index(bio_id), digest(raw))
    pipe.expire(_index(bio_id), backend.settings.session_absolute_seconds)
    pipe.execute()
    return raw


def load(backend: Backend, raw: str | None) -> Session | None:
    """The live session for cookie value ``raw``, renewing its idle timer."""
    if not raw or len(raw) > 128:
        return None
    stored = backend.redis.get(_key(raw))
    if stored is None:
        return None
    session = Session(**json.loads(stored))
    if now() - session.created_at > backend.settings.session_absolute_seconds:
        end(backend, raw)
        return None
    backend.redis.expire(_key(raw), backend.settings.session_idle_seconds)
    return session


def complete_mfa(backend: Backend, raw: str) -> str:
    """Rotate the id once the second factor is in (the privilege changed)."""
    session = load(backend, raw)
    if session is None:
        raise LookupError("no session")
    fresh = start(backend, session.bio_id, mfa_pending=False, replaces=raw)
    return fresh


def end(backend: Backend, raw: str) -> None:
    stored = backend.redis.get(_key(raw))
    if stored is not None:
        backend.redis.srem(_index(json.loads(stored)["bio_id"]), digest(raw))
    backend.redis.delete(_key(raw))


def end_all(backend: Backend, bio_id: str) -> None:
    """End every session of a user (after a password reset)."""
    hashed = backend.redis.smembers(_index(bio_id))
    keys = [f"bio:session:{h.decode() if isinstance(h, bytes) else h}" for h in hashed]
    if keys:
        backend.redis.delete(*keys)
    backend.redis.delete(_index(bio_id))
