"""The wallet's errors: one root, a stable code and an HTTP status each.

:mod:`tawa.web` renders them as ``{"error": {"code", "message"}}``; the typed
client in :mod:`tawa.clients.wallet` maps the same codes back to exceptions.
"""

from __future__ import annotations

from tawa.errors import TawaError


class WalletError(TawaError):
    code = "wallet_error"
    status = 400


class InsufficientFunds(WalletError):
    """A charge the spendable balance cannot cover; nothing was recorded."""

    code = "insufficient_funds"
    status = 402


class InsufficientReserve(WalletError):
    """The org cannot cover the deploy reserve of a tier."""

    code = "insufficient_reserve"
    status = 402


class DuplicateKeyConflict(WalletError):
    """An idempotency key reused with a different request body."""

    code = "duplicate_key_conflict"
    status = 409


class RequestInProgress(WalletError):
    """An earlier request with the same key is still being recorded."""

    code = "request_in_progress"
    status = 409


class WalletNotFound(WalletError):
    code = "wallet_not_found"
    status = 404


class InvalidAmount(WalletError):
    code = "invalid_amount"
    status = 422


class InvalidRequest(WalletError):
    code = "invalid_request"
    status = 422


class StoreUnavailable(WalletError):
    """MongoDB could not be reached; the outcome of a write is settled later."""

    code = "store_unavailable"
    status = 503
