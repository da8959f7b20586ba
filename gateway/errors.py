"""The gateway's own refusals: each knows its code and HTTP status.

Answered by :func:`tawa.gateway.answers.send_error` as
``{error: {code, message, details: {requestId}}}``. Bad paths are
:class:`tawa.gateway.paths.BadPath`; bad tokens the kernel's
:class:`tawa.tokens.InvalidToken`.
"""

from __future__ import annotations

from tawa.errors import TawaError


class GatewayError(TawaError):
    """Root of the errors the gateway raises itself."""

    code = "gateway_error"
    status = 500


class RouteNotFound(GatewayError):
    code = "route_not_found"
    status = 404


class MethodNotAllowed(GatewayError):
    code = "method_not_allowed"
    status = 405


class InsufficientGas(GatewayError):
    code = "insufficient_gas"
    status = 402


class UpstreamUnavailable(GatewayError):
    code = "upstream_unavailable"
    status = 502


class UpstreamTimeout(GatewayError):
    code = "upstream_timeout"
    status = 504
