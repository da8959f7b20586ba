"""Orgs, memberships with roles, and invitations.

An org has a slug (the ``owner`` of every TawaService) and an ``ORG-…`` id.
Creating an org ensures its wallet in the wallet service; when the wallet is
down the org is still created, marked ``wallet_pending``, and the next ensure
of the same org tries again.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

import httpx

from tawa.identity import accounts
from tawa.identity.core import Backend, digest, is_duplicate, now
from tawa.identity.errors import Conflict, IdentityError, NotAllowed, NotFound

ROLES = ("owner", "admin", "developer", "viewer")
MANAGERS = ("owner", "admin")
SLUG = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
log = logging.getLogger(__name__)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise IdentityError(
            f"role {role!r} is not one of {', '.join(ROLES)}", code="invalid_role", status=422
        )
    return role


def ensure_org(
    backend: Backend, *, slug: str, name: str = "", owner: str | None = None
) -> dict[str, Any]:
    """The org with ``slug``, created if missing; its wallet ensured."""
    if not SLUG.match(slug):
        raise IdentityError(
            f"org slug {slug!r} must be lowercase letters, digits and dashes",
            code="invalid_slug",
            status=422,
        )
    org = backend.db["orgs"].find_one({"slug": slug})
    if org is None:
        org = {
            "_id": f"ORG-{secrets.token_hex(6).upper()}",
            "slug": slug,
            "name": (name or slug)[:200],
            "created_at": now(),
            "wallet_pending": True,
        }
        try:
            backend.db["orgs"].insert_one(org)
            log.info("Created org %s (%s).", slug, org["_id"])
        except Exception as exc:
            if not is_duplicate(exc):
                raise
            org = backend.db["orgs"].find_one({"slug": slug})
    if owner is not None:
        add_member(backend, org=org, bio_id=owner, role="owner")
    if org.get("wallet_pending"):
        _ensure_wallet(backend, org)
    return dict(org)


def create_org(backend: Backend, *, slug: str, name: str, owner: str) -> dict[str, Any]:
    """A new org owned by ``owner`` (an account API call: the slug must be free)."""
    if backend.db["orgs"].find_one({"slug": slug}) is not None:
        raise Conflict(f"the org slug {slug!r} is taken")
    return ensure_org(backend, slug=slug, name=name, owner=owner)


def _ensure_wallet(backend: Backend, org: dict[str, Any]) -> None:
    url = backend.settings.wallet_url
    if not url:
        return
    key = backend.settings.internal_key.get_secret_value()
    for attempt in range(3):
        try:
            response = httpx.post(
                f"{url.rstrip('/')}/v1/wallets",
                json={"org": org["slug"], "name": org["name"]},
                headers={"X-Internal-Key": key},
                timeout=3.0,
            )
            if response.status_code < 300 or response.status_code == 409:
                backend.db["orgs"].update_one(
                    {"_id": org["_id"]}, {"$set": {"wallet_pending": False}}
                )
                org["wallet_pending"] = False
                return
            log.warning(
                "The wallet service answered %s for org %s.", response.status_code, org["slug"]
            )
        except httpx.HTTPError as exc:
            log.warning(
                "The wallet service is unreachable for org %s: %s.", org["slug"], type(exc).__name__
            )
        time.sleep(0.2 * (attempt + 1))
    log.warning("The wallet of org %s is not ensured yet; the next ensure retries.", org["slug"])


def get_org(backend: Backend, slug: str) -> dict[str, Any]:
    org = backend.db["orgs"].find_one({"slug": slug})
    if org is None:
        raise NotFound(f"no org {slug!r}")
    return dict(org)


def add_member(backend: Backend, *, org: dict[str, Any], bio_id: str, role: str) -> None:
    """Give ``bio_id`` ``role`` in ``org`` (the only role: a membership has one)."""
    check_role(role)
    backend.db["memberships"].update_one(
        {"org_id": org["_id"], "bio_id": bio_id},
        {"$set": {"roles": [role], "org_slug": org["slug"]}, "$setOnInsert": {"since": now()}},
        upsert=True,
    )


def remove_member(backend: Backend, *, org: dict[str, Any], bio_id: str) -> None:
    owners = backend.db["memberships"].count_documents({"org_id": org["_id"], "roles": "owner"})
    target = backend.db["memberships"].find_one({"org_id": org["_id"], "bio_id": bio_id})
    if target and "owner" in target["roles"] and owners <= 1:
        raise Conflict("an org keeps at least one owner")
    backend.db["memberships"].delete_one({"org_id": org["_id"], "bio_id": bio_id})


def require_role(
    backend: Backend, *, org: dict[str, Any], bio_id: str, allowed: tuple[str, ...]
) -> None:
    membership = backend.db["memberships"].find_one({"org_id": org["_id"], "bio_id": bio_id})
    if membership is None or not set(membership["roles"]) & set(allowed):
        raise NotAllowed(f"this needs the role {' or '.join(allowed)} in org {org['slug']}")


def memberships(backend: Backend, bio_id: str) -> list[dict[str, Any]]:
    """Every org of a user with its roles, oldest membership first."""
    found = list(backend.db["memberships"].find({"bio_id": bio_id}).sort("since", 1))
    orgs = {
        o["_id"]: o for o in backend.db["orgs"].find({"_id": {"$in": [m["org_id"] for m in found]}})
    }
    return [
        {
            "orgSlug": orgs[m["org_id"]]["slug"],
            "orgId": m["org_id"],
            "orgName": orgs[m["org_id"]]["name"],
            "roles": list(m["roles"]),
            "modules": [],
        }
        for m in found
        if m["org_id"] in orgs
    ]


def invite(backend: Backend, *, org: dict[str, Any], inviter: str, email: str, role: str) -> None:
    require_role(backend, org=org, bio_id=inviter, allowed=MANAGERS)
    check_role(role)
    email = accounts.normal_email(email)
    accounts.send_link(backend, kind="invitation", email=email, org_id=org["_id"], role=role)


def accept_invitation(backend: Backend, *, token: str, bio_id: str) -> dict[str, Any]:
    """Join the org of an invitation sent to this user's email."""
    user = accounts.get_user(backend, bio_id)
    # Check the addressee before spending the token, so a wrong account cannot burn it.
    peek = backend.db["one_time"].find_one({"_id": digest(token), "kind": "invitation"})
    if peek is not None and peek["email"] != user["email"]:
        raise NotAllowed("this invitation was sent to another email address")
    record = accounts.consume(backend, token, kind="invitation")
    org = backend.db["orgs"].find_one({"_id": record["data"]["org_id"]})
    if org is None:
        raise NotFound("the org of this invitation no longer exists")
    add_member(backend, org=org, bio_id=bio_id, role=record["data"]["role"])
    return dict(org)


def public_org(org: dict[str, Any]) -> dict[str, Any]:
    return {
        "orgId": org["_id"],
        "orgSlug": org["slug"],
        "name": org["name"],
        "walletPending": bool(org.get("wallet_pending")),
    }
