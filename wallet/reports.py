"""Read-side questions about a wallet: its ledger pages, spend, reserve, audit.

Every answer is built from the entries, so what the console, the CLI and the
deploy gate show is what the ledger says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tawa.tiers import DEPLOY_GATE_MONTHS, tier_spec
from tawa.wallet.errors import InvalidRequest
from tawa.wallet.ledger import APPLIED, Ledger
from tawa.wallet.tokens import CHARGE_KINDS, TokenType

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[dict[str, Any]]
    next_cursor: str | None


def ledger_page(
    ledger: Ledger,
    wallet_id: str,
    *,
    kind: str | None = None,
    service: str | None = None,
    environment: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Applied entries, newest first; ``cursor`` is the last id of the previous page."""
    ledger.wallet(wallet_id)
    query: dict[str, Any] = {"walletId": wallet_id, "state": APPLIED}
    for name, value in (("kind", kind), ("service", service), ("environment", environment)):
        if value is not None:
            query[name] = value
    if since is not None:
        query["createdAt"] = {"$gte": since}
    if cursor is not None:
        query["_id"] = {"$lt": cursor}
    limit = max(1, min(limit, MAX_PAGE))
    found = ledger.entries.find(query, sort=[("_id", -1)], limit=limit + 1)
    has_more = len(found) > limit
    entries = found[:limit]
    return Page(entries, entries[-1]["_id"] if has_more else None)


def spend(ledger: Ledger, wallet_id: str, *, since: datetime | None = None) -> list[dict[str, Any]]:
    """Gas charged per service, environment and kind, largest first."""
    ledger.wallet(wallet_id)
    match: dict[str, Any] = {
        "walletId": wallet_id,
        "state": APPLIED,
        "kind": {"$in": [k.value for k in CHARGE_KINDS]},
    }
    if since is not None:
        match["createdAt"] = {"$gte": since}
    rows = ledger.entries.aggregate(
        [
            {"$match": match},
            {
                "$group": {
                    "_id": {"service": "$service", "environment": "$environment", "kind": "$kind"},
                    "amount": {"$sum": "$amount"},
                    "count": {"$sum": 1},
                }
            },
        ]
    )
    items = [{**row["_id"], "amount": row["amount"], "count": row["count"]} for row in rows]
    return sorted(items, key=lambda i: (-i["amount"], str(i["service"]), str(i["kind"])))


def reserve(
    ledger: Ledger, wallet_id: str, *, tier: str, months: int = DEPLOY_GATE_MONTHS
) -> dict[str, Any]:
    """Whether the wallet covers ``months`` of hosting at ``tier`` (reference 4.5).

    Checked, not held: the reference leaves open whether the reserve is set
    aside, and holding it would lock intro tokens that exist to pay hosting.
    """
    try:
        required = tier_spec(tier).reserve(months)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    available = sum(ledger.wallet(wallet_id)["balances"].values())
    return {
        "walletId": wallet_id,
        "tier": tier,
        "months": months,
        "required": required,
        "available": available,
        "passes": available >= required,
        "missing": max(0, required - available),
    }


def audit(ledger: Ledger, wallet_id: str) -> dict[str, Any]:
    """Balances against the sums of the ledger, per token type.

    Entries applied but not yet finalised are parked on the wallet with their
    changes and count too. Meant for a quiet wallet (tests, operators): under
    traffic the two reads may straddle a write.
    """
    wallet = ledger.wallet(wallet_id)
    totals = {t.value: 0 for t in TokenType}
    applied = ledger.entries.find({"walletId": wallet_id, "state": APPLIED})
    for entry in applied:
        for token_type, change in entry.get("changes", {}).items():
            totals[token_type] += change
    for parked in wallet.get("pending", []):
        for token_type, change in parked["changes"].items():
            totals[token_type] += change
    pending = ledger.entries.find({"walletId": wallet_id, "state": {"$ne": APPLIED}})
    return {
        "walletId": wallet_id,
        "balances": wallet["balances"],
        "ledgerTotals": totals,
        "entries": len(applied),
        "pendingEntries": len(pending),
        "parkedChanges": len(wallet.get("pending", [])),
        "consistent": totals == wallet["balances"],
    }
