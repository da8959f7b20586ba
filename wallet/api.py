"""The wallet's HTTP surface under ``/v1`` (shapes in ``docs/contracts.md``).

Handlers are plain functions: FastAPI runs them in its thread pool, where the
blocking MongoDB calls of :mod:`.ledger` belong. Amounts arrive untyped and
are checked by :func:`.tokens.checked_amount`, so a float or a boolean gets
``invalid_amount`` rather than a generic validation error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from tawa.clients import wallet as wire
from tawa.resource import NAME_PATTERN, Environment
from tawa.tiers import DEPLOY_GATE_MONTHS, Tier
from tawa.wallet import reports
from tawa.wallet.auth import Caller, Gatekeeper
from tawa.wallet.errors import InsufficientFunds, WalletError, WalletNotFound
from tawa.wallet.ledger import EntryRequest, Ledger, Recorded, wallet_id_for
from tawa.wallet.tokens import Kind, TokenType, spendable

MAX_USAGE_EVENTS = 1000
# The wire models live with the typed client in the kernel: one definition of
# each shape for both ends. Optional fields are left out rather than null.
_ENTRY: dict[str, Any] = {"response_model": wire.Entry, "response_model_exclude_none": True}
Amount = Annotated[
    Any, Field(json_schema_extra={"type": "integer", "minimum": 1, "maximum": 10**12})
]
Key = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
Slug = Annotated[str, Field(pattern=NAME_PATTERN, max_length=63)]


class _In(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class WalletIn(_In):
    org: Slug
    name: str | None = Field(default=None, max_length=200)


class CreditIn(_In):
    amount: Amount
    token_type: Literal["purchased", "earned"]
    reason: str = Field(min_length=1, max_length=500)
    reference_id: str | None = Field(default=None, max_length=200)
    idempotency_key: Key


class ChargeIn(_In):
    amount: Amount
    kind: Literal["hosting", "transaction"]
    service: Slug
    environment: Environment
    idempotency_key: Key
    reason: str | None = Field(default=None, max_length=500)
    route: str | None = Field(default=None, max_length=512)


class UsageEvent(_In):
    id: Key
    org: Slug
    service: Slug
    environment: Environment
    route: str = Field(max_length=512)
    amount: Amount


class UsageIn(_In):
    events: list[dict[str, Any]] = Field(max_length=MAX_USAGE_EVENTS)
    """Validated one by one, so one bad event does not fail the batch."""


def wallet_view(wallet: dict[str, Any]) -> dict[str, Any]:
    balances = wallet["balances"]
    return {
        "walletId": wallet["_id"],
        "org": wallet["org"],
        "name": wallet.get("name"),
        "totalBalance": sum(balances.values()),
        "balances": [
            {"tokenType": t.value, "balance": balances.get(t.value, 0)} for t in TokenType
        ],
        "apiSpendable": spendable(balances, Kind.TRANSACTION),
        "createdAt": wallet.get("createdAt"),
    }


_ENTRY_FIELDS = (
    "walletId",
    "kind",
    "amount",
    "tokenType",
    "changes",
    "service",
    "environment",
    "route",
    "reason",
    "referenceId",
    "createdAt",
    "appliedAt",
    "balancesAfter",
)


def entry_view(entry: dict[str, Any]) -> dict[str, Any]:
    view = {"id": entry["_id"], "idempotencyKey": entry["key"]}
    return view | {f: entry.get(f) for f in _ENTRY_FIELDS if entry.get(f) is not None}


async def current_caller(request: Request) -> Caller:
    gatekeeper: Gatekeeper = request.app.state.gatekeeper
    return await gatekeeper(request)


Who = Annotated[Caller, Depends(current_caller)]


def build_router(ledger: Ledger, metrics: CollectorRegistry) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["wallet"])
    recorded = Counter(
        "wallet_entries_total",
        "Entry requests by kind and outcome",
        ["kind", "outcome"],
        registry=metrics,
    )

    def readable(wallet_id: str, who: Caller) -> str:
        if not who.may_read(wallet_id.removeprefix("wallet-")):
            raise WalletNotFound(f"there is no wallet {wallet_id!r} you may read")
        return wallet_id

    def answer(result: Recorded, kind: str, response: Response) -> dict[str, Any]:
        recorded.labels(kind, "replayed" if result.replayed else "applied").inc()
        if result.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return entry_view(result.entry)

    @router.post(
        "/wallets",
        response_model=wire.Wallet,
        response_model_exclude_none=True,
        summary="Ensure the org's wallet (created once, with intro tokens)",
    )
    def ensure_wallet(body: WalletIn, who: Who) -> dict[str, Any]:
        who.require_service()
        return wallet_view(ledger.ensure_wallet(body.org, name=body.name))

    @router.get(
        "/wallets/{wallet_id}",
        response_model=wire.Wallet,
        response_model_exclude_none=True,
        summary="Balances per token type",
    )
    def get_wallet(wallet_id: str, who: Who) -> dict[str, Any]:
        return wallet_view(ledger.wallet(readable(wallet_id, who)))

    @router.post("/wallets/{wallet_id}/credits", status_code=201, **_ENTRY, summary="Credit tokens")
    def credit(wallet_id: str, body: CreditIn, who: Who, response: Response) -> dict[str, Any]:
        who.require_service()
        request = EntryRequest(
            wallet_id,
            body.idempotency_key,
            Kind.CREDIT,
            body.amount,
            token_type=TokenType(body.token_type),
            reason=body.reason,
            reference_id=body.reference_id,
        )
        return answer(ledger.credit(request), Kind.CREDIT, response)

    @router.post("/wallets/{wallet_id}/charges", status_code=201, **_ENTRY, summary="Charge gas")
    def charge(wallet_id: str, body: ChargeIn, who: Who, response: Response) -> dict[str, Any]:
        who.require_service()
        request = EntryRequest(
            wallet_id,
            body.idempotency_key,
            Kind(body.kind),
            body.amount,
            service=body.service,
            environment=body.environment.value,
            route=body.route,
            reason=body.reason,
        )
        try:
            return answer(ledger.charge(request), body.kind, response)
        except InsufficientFunds:
            recorded.labels(body.kind, "insufficient_funds").inc()
            raise

    @router.get(
        "/wallets/{wallet_id}/ledger",
        response_model=wire.LedgerPage,
        response_model_exclude_none=True,
        summary="Applied entries, newest first",
    )
    def ledger_page(
        wallet_id: str,
        who: Who,
        kind: Kind | None = None,
        service: str | None = None,
        environment: str | None = None,
        since: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=reports.MAX_PAGE)] = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        page = reports.ledger_page(
            ledger,
            readable(wallet_id, who),
            kind=kind.value if kind else None,
            service=service,
            environment=environment,
            since=since,
            limit=limit,
            cursor=cursor,
        )
        return {"entries": [entry_view(e) for e in page.entries], "nextCursor": page.next_cursor}

    @router.get(
        "/wallets/{wallet_id}/spend",
        response_model=wire.Spend,
        response_model_exclude_none=True,
        summary="Gas spent per service and kind",
    )
    def spend(wallet_id: str, who: Who, since: datetime | None = None) -> dict[str, Any]:
        items = reports.spend(ledger, readable(wallet_id, who), since=since)
        return {"walletId": wallet_id, "since": since, "items": items}

    @router.get(
        "/wallets/{wallet_id}/reserve",
        response_model=wire.Reserve,
        response_model_exclude_none=True,
        summary="Deploy reserve check for a tier",
    )
    def reserve(
        wallet_id: str,
        who: Who,
        tier: Tier = Tier.NANO,
        months: Annotated[int, Query(ge=1, le=120)] = DEPLOY_GATE_MONTHS,
    ) -> dict[str, Any]:
        return reports.reserve(ledger, readable(wallet_id, who), tier=tier.value, months=months)

    @router.get("/wallets/{wallet_id}/audit", summary="Balances against the ledger sums")
    def audit(wallet_id: str, who: Who) -> dict[str, Any]:
        who.require_service()
        return reports.audit(ledger, wallet_id)

    @router.post(
        "/usage",
        response_model=wire.UsageAnswer,
        response_model_exclude_none=True,
        summary="Charge a batch of transaction gas from the gateway",
    )
    def usage(body: UsageIn, who: Who) -> dict[str, Any]:
        who.require_service()
        seen: dict[str, dict[str, Any]] = {}
        results = [_usage_event(ledger, raw, seen, recorded) for raw in body.events]
        return {"results": results}

    return router


def _usage_event(
    ledger: Ledger, raw: dict[str, Any], seen: dict[str, dict[str, Any]], recorded: Counter
) -> dict[str, Any]:
    """One event's outcome; store failures fail the batch, which is safe to resend."""
    try:
        event = UsageEvent.model_validate(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(p) for p in problem["loc"])
        return {"id": raw.get("id"), "status": "invalid", "error": f"{field}: {problem['msg']}"}
    if event.id in seen:
        return {**seen[event.id], "status": "duplicate"}
    request = EntryRequest(
        wallet_id_for(event.org),
        f"usage:{event.id}",
        Kind.TRANSACTION,
        event.amount,
        service=event.service,
        environment=event.environment.value,
        route=event.route,
    )
    try:
        result = ledger.charge(request)
    except InsufficientFunds:
        recorded.labels(Kind.TRANSACTION, "insufficient_funds").inc()
        outcome: dict[str, Any] = {"id": event.id, "status": "insufficient_funds"}
    except WalletError as exc:
        if exc.status >= 500 or exc.code == "request_in_progress":
            raise
        outcome = {"id": event.id, "status": "invalid", "error": exc.code}
    else:
        recorded.labels(Kind.TRANSACTION, "replayed" if result.replayed else "applied").inc()
        status = "duplicate" if result.replayed else "charged"
        outcome = {"id": event.id, "status": status, "entryId": result.entry["_id"]}
    seen[event.id] = outcome
    return outcome
