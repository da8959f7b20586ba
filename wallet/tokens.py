"""Token types, the spend order and the amount rules, in one place.

Pure functions over a wallet's per-type balances; :mod:`.ledger` turns a plan
into one conditional MongoDB update. Nothing here touches storage.

Spend order is intro → purchased → earned (reference 4.5): intro first keeps
bought tokens, earned last lets revenue accumulate. Intro tokens pay hosting
only, so a transaction charge starts at purchased.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from tawa.wallet.errors import InvalidAmount

MAX_AMOUNT = 10**12
"""Largest single amount (US$10bn): far below int64, so sums cannot overflow."""
INTRO_GRANT = 50_000


class TokenType(StrEnum):
    INTRO = "intro"
    PURCHASED = "purchased"
    EARNED = "earned"


class Kind(StrEnum):
    """What an entry records."""

    GRANT = "grant"
    CREDIT = "credit"
    HOSTING = "hosting"
    TRANSACTION = "transaction"


CHARGE_KINDS = (Kind.HOSTING, Kind.TRANSACTION)
CREDIT_TYPES = (TokenType.PURCHASED, TokenType.EARNED)
SPEND_ORDER: dict[Kind, tuple[TokenType, ...]] = {
    Kind.HOSTING: (TokenType.INTRO, TokenType.PURCHASED, TokenType.EARNED),
    Kind.TRANSACTION: (TokenType.PURCHASED, TokenType.EARNED),
}

Changes = dict[str, int]
"""Signed change per token type, only the types that move."""


def checked_amount(value: Any, *, field: str = "amount") -> int:
    """``value`` if it is a whole number of tokens, else :class:`InvalidAmount`.

    JSON gives floats for ``5.0`` and booleans for ``true``; both are refused
    rather than coerced, so a client bug never turns into a silent charge.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(
            f"{field} must be a whole number of tokens, got {value!r}",
            details={"field": field},
        )
    if not 0 < value <= MAX_AMOUNT:
        raise InvalidAmount(
            f"{field} must be between 1 and {MAX_AMOUNT:,}, got {value}",
            details={"field": field},
        )
    return value


def spendable(balances: Mapping[str, int], kind: Kind) -> int:
    """Tokens a charge of ``kind`` may draw on."""
    return sum(balances.get(t, 0) for t in SPEND_ORDER[kind])


def plan_charge(balances: Mapping[str, int], amount: int, kind: Kind) -> Changes | None:
    """How a charge splits over the token types, or ``None`` if it cannot be paid."""
    remaining, changes = amount, {}
    for token_type in SPEND_ORDER[kind]:
        take = min(balances.get(token_type, 0), remaining)
        if take > 0:
            changes[token_type.value] = -take
            remaining -= take
    return None if remaining else changes


def charge_guards(balances: Mapping[str, int], changes: Changes, kind: Kind) -> dict[str, Any]:
    """Filter conditions under which ``changes`` is still the right split.

    The last type drawn on only needs enough left (``>=``), so concurrent
    charges on a well-funded type never conflict. Every earlier type in the
    order must hold exactly what the plan drains from it: if a credit landed
    there meanwhile, the spend order would take it first, so the update must
    miss and be planned again. The guards also keep every balance >= 0.
    """
    order = SPEND_ORDER[kind]
    used = [t for t in order if t.value in changes]
    last = order.index(used[-1])
    guards: dict[str, Any] = {}
    for token_type in order[:last]:
        guards[f"balances.{token_type.value}"] = -changes.get(token_type.value, 0)
    guards[f"balances.{order[last].value}"] = {"$gte": -changes[order[last].value]}
    return guards
