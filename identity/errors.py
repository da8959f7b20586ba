"""The identity service's errors.

Two families: :class:`IdentityError` for the account and admin APIs (rendered
by :mod:`tawa.web` as ``{"error": {code, message}}``), and :class:`OAuthError`
for the OAuth endpoints, which answer with the RFC 6749 wire shape
``{"error", "error_description"}`` and the RFC's codes.
"""

from __future__ import annotations

from tawa.errors import TawaError


class IdentityError(TawaError):
    code = "identity_error"
    status = 400


class NotFound(IdentityError):
    code = "not_found"
    status = 404


class Conflict(IdentityError):
    code = "conflict"
    status = 409


class InvalidCredentials(IdentityError):
    code = "invalid_credentials"
    status = 401


class LockedOut(IdentityError):
    code = "locked_out"
    status = 429


class RateLimited(IdentityError):
    code = "rate_limited"
    status = 429


class LoginRequired(IdentityError):
    code = "login_required"
    status = 401


class NotAllowed(IdentityError):
    code = "forbidden"
    status = 403


class OAuthError(TawaError):
    """An OAuth error with its RFC wire code (``invalid_grant``, ...)."""

    status = 400

    def __init__(self, code: str, description: str, *, status: int | None = None) -> None:
        super().__init__(description, code=code, status=status)


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_client(description: str = "client authentication failed") -> OAuthError:
    return OAuthError("invalid_client", description, status=401)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)
