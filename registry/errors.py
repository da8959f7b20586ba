"""The registry's errors: one small tree under :class:`RegistryError`.

Each error knows its stable code and HTTP status; :mod:`tawa.web` renders it.
Messages name the field or object concerned and never carry a config value.
"""

from __future__ import annotations

from tawa.errors import TawaError


class RegistryError(TawaError):
    code = "registry_error"
    status = 500


class NotFound(RegistryError):
    code = "not_found"
    status = 404


class InvalidInput(RegistryError):
    """A value passed the schema but breaks a rule of the registry."""

    code = "invalid_request"
    status = 422


class RouteConflict(RegistryError):
    """Another service of the environment already claims a path and method."""

    code = "route_conflict"
    status = 409


class DomainTaken(RegistryError):
    code = "domain_conflict"
    status = 409


class GrantRefused(RegistryError):
    """The owner's record does not let this consumer ask for this access."""

    code = "grant_refused"
    status = 403


class HistoryGone(RegistryError):
    """The change log no longer holds the asked-for version: reload in full."""

    code = "history_gone"
    status = 410
