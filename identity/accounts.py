"""People: registration, email verification, password login with lockout,
password reset and TOTP second factor.

Every input here is hostile. Passwords are hashed with argon2id and compared
by the library; an unknown email costs the same hash as a known one so the
timing tells nothing; failures count per account (lockout) and per client
address (rate limit) in Redis. Single-use tokens (verification, reset,
invitations) are stored by SHA-256 only and consumed with one atomic delete.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import UTC, datetime
from typing import Any

import pyotp
from argon2.exceptions import InvalidHashError, VerificationError

from tawa.identity.core import Backend, digest, is_duplicate, new_secret, now
from tawa.identity.errors import (
    Conflict,
    IdentityError,
    InvalidCredentials,
    LockedOut,
    NotFound,
    RateLimited,
)

EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
RECOVERY_CODES = 10
log = logging.getLogger(__name__)


def normal_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise IdentityError("email is not a valid address", code="invalid_email", status=422)
    return email


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise IdentityError(
            f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long",
            code="weak_password",
            status=422,
        )


def register(
    backend: Backend,
    *,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    verified: bool = False,
    user_type: str = "user",
) -> dict[str, Any]:
    """Create a user and (unless ``verified``) send the verification link."""
    email = normal_email(email)
    check_password_rules(password)
    user: dict[str, Any] = {
        "_id": f"BIO-{secrets.token_hex(8).upper()}",
        "email": email,
        "password_hash": backend.hasher.hash(password),
        "email_verified": verified,
        "first_name": first_name[:100],
        "last_name": last_name[:100],
        "user_type": user_type,
        "mfa": {"enabled": False},
        "created_at": now(),
    }
    try:
        backend.db["users"].insert_one(user)
    except Exception as exc:
        if is_duplicate(exc):
            raise Conflict("an account with this email already exists") from exc
        raise
    if not verified:
        send_link(backend, kind="verify_email", email=email, bio_id=user["_id"])
    return user


def send_link(backend: Backend, *, kind: str, email: str, bio_id: str = "", **data: Any) -> str:
    """Issue a single-use token of ``kind`` and mail its link to ``email``."""
    ttl = {
        "verify_email": backend.settings.email_token_ttl,
        "reset_password": backend.settings.reset_token_ttl,
    }.get(kind, backend.settings.email_token_ttl)
    token = new_secret()
    backend.db["one_time"].insert_one(
        {
            "_id": digest(token),
            "kind": kind,
            "bio_id": bio_id,
            "email": email,
            "data": data,
            "exp": now() + ttl,
            "expires_at": datetime.fromtimestamp(now() + ttl, UTC),
        }
    )
    paths = {"verify_email": "verify-email", "reset_password": "reset-password"}
    link = f"{backend.settings.identity_issuer}/{paths.get(kind, 'invitations')}?token={token}"
    subjects = {"verify_email": "Confirm your email", "reset_password": "Reset your password"}
    backend.sender.send(
        to=email, subject=subjects.get(kind, "You are invited"), kind=kind, link=link
    )
    return token


def consume(backend: Backend, token: str, *, kind: str) -> dict[str, Any]:
    """The record of a single-use token, deleted in the same step."""
    record = backend.db["one_time"].find_one_and_delete({"_id": digest(token), "kind": kind})
    if record is None or record["exp"] < now():
        raise IdentityError("the link is invalid or has expired", code="invalid_token", status=400)
    return dict(record)


def verify_email(backend: Backend, token: str) -> None:
    record = consume(backend, token, kind="verify_email")
    backend.db["users"].update_one({"_id": record["bio_id"]}, {"$set": {"email_verified": True}})


def request_reset(backend: Backend, email: str) -> None:
    """Mail a reset link if the account exists; the answer is the same either way."""
    try:
        email = normal_email(email)
    except IdentityError:
        return
    user = backend.db["users"].find_one({"email": email})
    if user is None or _too_many_resets(backend, email):
        return
    send_link(backend, kind="reset_password", email=email, bio_id=user["_id"])


def _too_many_resets(backend: Backend, email: str) -> bool:
    """At most five reset mails per account per hour (no mail bombing)."""
    key = f"bio:reset-requests:{digest(email)}"
    pipe = backend.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, 3600)
    return int(pipe.execute()[0]) > 5


def reset_password(backend: Backend, token: str, password: str) -> str:
    check_password_rules(password)
    record = consume(backend, token, kind="reset_password")
    backend.db["users"].update_one(
        {"_id": record["bio_id"]}, {"$set": {"password_hash": backend.hasher.hash(password)}}
    )
    backend.redis.delete(_failures_key(record["email"]))
    return str(record["bio_id"])


# -- login ------------------------------------------------------------------


def _failures_key(email: str) -> str:
    return f"bio:login-failures:{digest(email)}"


def limit_address(backend: Backend, address: str) -> None:
    """At most ``login_rate_per_minute`` login attempts per client address."""
    key = f"bio:login-rate:{address}:{int(now() // 60)}"
    pipe = backend.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, 61)
    count = int(pipe.execute()[0])
    if count > backend.settings.login_rate_per_minute:
        raise RateLimited("too many login attempts from this address; wait a minute")


def record_failure(backend: Backend, email: str) -> None:
    key = _failures_key(email)
    pipe = backend.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, backend.settings.lockout_seconds)
    pipe.execute()


def authenticate(backend: Backend, *, email: str, password: str, address: str) -> dict[str, Any]:
    """The user whose email and password these are, or an error that says little."""
    limit_address(backend, address)
    try:
        email = normal_email(email)
    except IdentityError as exc:
        raise InvalidCredentials("the email or password is not correct") from exc
    failures = int(backend.redis.get(_failures_key(email)) or 0)
    if failures >= backend.settings.lockout_failures:
        log.warning("Refused a login for locked account %s from %s.", masked(email), address)
        raise LockedOut("the account is locked after repeated failures; try again later")

    user = backend.db["users"].find_one({"email": email})
    stored = user["password_hash"] if user else _DUMMY_HASH.get(backend)
    try:
        backend.hasher.verify(stored, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        record_failure(backend, email)
        log.info("A login for %s from %s failed.", masked(email), address)
        raise InvalidCredentials("the email or password is not correct")

    backend.redis.delete(_failures_key(email))
    if backend.hasher.check_needs_rehash(user["password_hash"]):
        fresh = backend.hasher.hash(password)
        backend.db["users"].update_one({"_id": user["_id"]}, {"$set": {"password_hash": fresh}})
    return dict(user)


class _DummyHash:
    """A hash to verify against when the email is unknown (same cost, no user)."""

    def __init__(self) -> None:
        self._by_params: dict[str, str] = {}

    def get(self, backend: Backend) -> str:
        params = f"{backend.hasher.time_cost}:{backend.hasher.memory_cost}"
        if params not in self._by_params:
            self._by_params[params] = backend.hasher.hash(secrets.token_urlsafe(16))
        return self._by_params[params]


_DUMMY_HASH = _DummyHash()


# -- second factor ----------------------------------------------------------


def begin_mfa(backend: Backend, bio_id: str) -> dict[str, str]:
    """A new TOTP secret, pending until a first code confirms it."""
    user = get_user(backend, bio_id)
    secret = pyotp.random_base32()
    backend.db["users"].update_one({"_id": bio_id}, {"$set": {"mfa.pending_secret": secret}})
    uri = pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name="Bio-ID")
    return {"secret": secret, "otpauthUri": uri}


def confirm_mfa(backend: Backend, bio_id: str, code: str) -> list[str]:
    """Turn MFA on with a first valid code; returns the recovery codes (once)."""
    user = get_user(backend, bio_id)
    secret = user.get("mfa", {}).get("pending_secret")
    if not secret or not _totp_ok(backend, bio_id, secret, code):
        raise InvalidCredentials("the code is not valid")
    recovery = [secrets.token_hex(8) for _ in range(RECOVERY_CODES)]
    backend.db["users"].update_one(
        {"_id": bio_id},
        {
            "$set": {
                "mfa": {
                    "enabled": True,
                    "secret": secret,
                    "recovery": [digest(c) for c in recovery],
                }
            }
        },
    )
    return recovery


def check_second_factor(backend: Backend, bio_id: str, code: str) -> None:
    """Accept a current TOTP code or an unused recovery code (then spent)."""
    user = get_user(backend, bio_id)
    if (
        int(backend.redis.get(_failures_key(user["email"])) or 0)
        >= backend.settings.lockout_failures
    ):
        raise LockedOut("the account is locked after repeated failures; try again later")
    mfa = user.get("mfa", {})
    code = code.strip().replace(" ", "")
    if mfa.get("enabled") and _totp_ok(backend, bio_id, mfa["secret"], code):
        return
    spent = backend.db["users"].find_one_and_update(
        {"_id": bio_id, "mfa.recovery": digest(code.lower())},
        {"$pull": {"mfa.recovery": digest(code.lower())}},
    )
    if spent is None:
        record_failure(backend, user["email"])
        raise InvalidCredentials("the code is not valid")


def _totp_ok(backend: Backend, bio_id: str, secret: str, code: str) -> bool:
    if not code.isdigit() or len(code) != 6:
        return False
    if not pyotp.TOTP(secret).verify(code, valid_window=1):
        return False
    # A code is good once: a replay inside its window is refused.
    return bool(backend.redis.set(f"bio:totp-used:{bio_id}:{code}", 1, nx=True, ex=120))


def masked(email: str) -> str:
    """An email fit for a log line: first letter and domain."""
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


def get_user(backend: Backend, bio_id: str) -> dict[str, Any]:
    user = backend.db["users"].find_one({"_id": bio_id})
    if user is None:
        raise NotFound("no such user")
    return dict(user)


def public_user(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "bioId": user["_id"],
        "email": user["email"],
        "emailVerified": user.get("email_verified", False),
        "firstName": user.get("first_name", ""),
        "lastName": user.get("last_name", ""),
        "userType": user.get("user_type", "user"),
        "mfaEnabled": bool(user.get("mfa", {}).get("enabled")),
    }
