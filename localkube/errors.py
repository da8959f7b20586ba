"""Kubernetes API errors, rendered as ``Status`` objects.

Every failure the local API answers goes through one of these classes so that
clients (client-go, the ``kubernetes`` package, kopf) see the same ``reason``
and ``code`` a real API server would send and map them to their own errors.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Root of the local API's errors; knows its HTTP status and reason."""

    status = 500
    reason = "InternalError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_status(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.status,
        }


class BadRequest(ApiError):
    status = 400
    reason = "BadRequest"


class NotFound(ApiError):
    status = 404
    reason = "NotFound"


class MethodNotAllowed(ApiError):
    status = 405
    reason = "MethodNotAllowed"


class AlreadyExists(ApiError):
    status = 409
    reason = "AlreadyExists"


class Conflict(ApiError):
    status = 409
    reason = "Conflict"


class Expired(ApiError):
    status = 410
    reason = "Expired"


class UnsupportedMediaType(ApiError):
    status = 415
    reason = "UnsupportedMediaType"


class Invalid(ApiError):
    status = 422
    reason = "Invalid"
