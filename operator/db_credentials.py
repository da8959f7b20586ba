"""Names, connection strings and passwords of the credentials the platform issues.

One place for the conventions the database step follows and a service relies
on (reference 2.5.2 and 2.5.4):

- Secrets ``{service}-db-mongodb``, ``-redis``, ``-neo4j`` and ``-grants``;
- the first MongoDB database as ``MONGODB_URI``, further ones as
  ``{DATABASE}_MONGODB_URI``; Redis as ``REDIS_URL`` with the key prefix in
  ``REDIS_KEY_PREFIX``; a grant as ``{OWNER}_MONGODB_URI`` or
  ``{OWNER}_REDIS_URL``;
- users ``{service}-{env}``, grant users ``{consumer}-{env}.{owner}``;
- rotation requested by the annotation ``tawa.insureco.io/rotate-credentials``
  (every type) or ``tawa.insureco.io/rotate-{type}``, whose values the Secret
  remembers once honoured.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from tawa.resource import GROUP, env_var_name

ROTATE_ALL = f"{GROUP}/rotate-credentials"
ROTATED = f"{GROUP}/rotation"
"""Secret annotation: the rotation request last honoured."""
DATABASES = f"{GROUP}/databases"
"""Secret annotation: the MongoDB databases whose users the Secret holds."""
ACL_RULES = f"{GROUP}/acl-rules"
"""Secret annotation: fingerprint of the Redis command rules last applied."""
GRANTS = f"{GROUP}/grants"
"""Secret annotation: the grants whose users the Secret holds (JSON)."""


@dataclass(slots=True)
class Report:
    """What one reconcile of the databases step delivered, for its condition."""

    changed: bool = False
    delivered: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What could not be provisioned: the condition is False."""
    warnings: list[str] = field(default_factory=list)
    """What is degraded but does not stop the service."""


def rotate_annotation(kind: str) -> str:
    return f"{GROUP}/rotate-{kind}"


def rotation_request(annotations: dict[str, str], kind: str) -> str:
    """The rotation asked for ``kind`` (empty: none ever asked)."""
    parts = [annotations.get(ROTATE_ALL, ""), annotations.get(rotate_annotation(kind), "")]
    return "|".join(parts) if any(parts) else ""


def secret_name(service: str, kind: str) -> str:
    return f"{service}-db-{kind}"


def user_name(service: str, environment: str) -> str:
    return f"{service}-{environment}"


def grant_user_name(consumer: str, environment: str, owner: str) -> str:
    return f"{consumer}-{environment}.{owner}"


def key_prefix(service: str, environment: str) -> str:
    return f"{service}-{environment}:"


def mongo_key(database: str, *, first: bool) -> str:
    return "MONGODB_URI" if first else env_var_name(database, "MONGODB_URI")


def new_password() -> str:
    return secrets.token_urlsafe(32)


def mongo_uri(user: str, password: str, *, host: str, database: str, options: str = "") -> str:
    query = f"?{options}" if options else ""
    return f"mongodb://{quote(user, safe='')}:{quote(password, safe='')}@{host}/{database}{query}"


def redis_url(user: str, password: str, *, host: str, db: int) -> str:
    return f"redis://{quote(user, safe='')}:{quote(password, safe='')}@{host}/{db}"


def password_in(uri: str | None) -> str | None:
    """The password inside a connection string we issued, if any."""
    if not uri:
        return None
    try:
        password = urlsplit(uri).password
    except ValueError:
        return None
    return unquote(password) if password else None


def issued_mongo_password(uris: list[str], *, user: str, database: str) -> str | None:
    """The password of ``user`` on ``database`` among connection strings issued before."""
    for uri in uris:
        try:
            parts = urlsplit(uri)
            username = unquote(parts.username or "")
        except ValueError:
            continue
        if parts.scheme == "mongodb" and username == user and parts.path == f"/{database}":
            return password_in(uri)
    return None


def without_credentials(uri: str) -> str:
    """``uri`` with any ``user:password@`` removed."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()
