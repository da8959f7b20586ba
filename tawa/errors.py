"""The root of every error Tawa raises on purpose.

Each component keeps its own small tree under :class:`TawaError`. An error
carries a stable ``code`` (for machines), a sentence (for people) and the HTTP
status it maps to; :mod:`tawa.web` turns it into a response in one place.
"""

from __future__ import annotations

from typing import Any


class TawaError(Exception):
    """An expected failure with a stable code and a sentence a user can act on."""

    code: str = "tawa_error"
    status: int = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ConfigurationError(TawaError):
    """A setting is missing or malformed."""

    code = "configuration_error"
    status = 500


class UpstreamError(TawaError):
    """A service we depend on failed or could not be reached."""

    code = "upstream_error"
    status = 502
