"""Typed async client of the wallet service, for the operator, the CLI and the gateway.

The wire shapes are those of ``docs/contracts.md``. Failures are translated
once, here: an error answer becomes the exception named by its stable code,
and a transport failure or a 5xx becomes :class:`WalletUnreachable`, so callers
decide "fail open" or "retry" on one type.

Every write carries an idempotency key, so the client may resend it after a
timeout or a dropped connection without charging twice; it does so a few
times before giving up.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from tawa.clients._base import segment
from tawa.errors import TawaError, UpstreamError

TokenType = Literal["intro", "purchased", "earned"]
ChargeKind = Literal["hosting", "transaction"]


def wallet_id(org: str) -> str:
    """The id of ``org``'s wallet (reference 4.5)."""
    return f"wallet-{org}"


class WalletClientError(TawaError):
    """An error answer from the wallet; ``code`` and ``status`` are the server's."""

    code = "wallet_error"
    status = 400


class InsufficientFunds(WalletClientError):
    code = "insufficient_funds"
    status = 402


class InsufficientReserve(WalletClientError):
    code = "insufficient_reserve"
    status = 402


class DuplicateKeyConflict(WalletClientError):
    code = "duplicate_key_conflict"
    status = 409


class WalletNotFound(WalletClientError):
    code = "wallet_not_found"
    status = 404


class InvalidAmount(WalletClientError):
    code = "invalid_amount"
    status = 422


class WalletUnreachable(UpstreamError):
    """The wallet could not be reached or failed on its side (5xx)."""

    code = "wallet_unreachable"
    status = 503


_BY_CODE: dict[str, type[WalletClientError]] = {
    cls.code: cls
    for cls in (
        InsufficientFunds,
        InsufficientReserve,
        DuplicateKeyConflict,
        WalletNotFound,
        InvalidAmount,
    )
}
_RETRIED_CODES = {"request_in_progress"}


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Balance(_Wire):
    token_type: TokenType
    balance: int


class Wallet(_Wire):
    wallet_id: str
    org: str
    name: str | None = None
    total_balance: int
    balances: list[Balance]
    api_spendable: int
    created_at: datetime | None = None

    def balance(self, token_type: TokenType) -> int:
        return next((b.balance for b in self.balances if b.token_type == token_type), 0)


class Entry(_Wire):
    id: str
    idempotency_key: str
    wallet_id: str
    kind: Literal["grant", "credit", "hosting", "transaction"]
    amount: int
    changes: dict[str, int] = Field(default_factory=dict)
    token_type: TokenType | None = None
    service: str | None = None
    environment: str | None = None
    route: str | None = None
    reason: str | None = None
    reference_id: str | None = None
    created_at: datetime
    applied_at: datetime | None = None
    balances_after: dict[str, int] | None = None


class Written(Entry):
    """The answer to a credit or a charge, as the client returns it."""

    replayed: bool = False
    """The wallet answered with the first result of a key sent before."""


class LedgerPage(_Wire):
    entries: list[Entry]
    next_cursor: str | None = None


class SpendItem(_Wire):
    service: str | None = None
    environment: str | None = None
    kind: str
    amount: int
    count: int


class Spend(_Wire):
    wallet_id: str
    since: datetime | None = None
    items: list[SpendItem]


class Reserve(_Wire):
    wallet_id: str
    tier: str
    months: int
    required: int
    available: int
    passes: bool
    missing: int


class UsageEvent(_Wire):
    id: str
    org: str
    service: str
    environment: str
    route: str
    amount: int


class UsageResult(_Wire):
    id: str | None = None
    status: Literal["charged", "duplicate", "insufficient_funds", "invalid"]
    entry_id: str | None = None
    error: str | None = None


class UsageAnswer(_Wire):
    results: list[UsageResult]


class WalletClient:
    """``async with WalletClient(url, internal_key=...) as wallet: await wallet.charge(...)``."""

    def __init__(
        self,
        base_url: str,
        *,
        internal_key: str | None = None,
        token: str | None = None,
        timeout: float = 5.0,
        retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {}
        if internal_key:
            headers["X-Internal-Key"] = internal_key
        elif token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self._retries = retries

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- calls -------------------------------------------------------------------------------

    async def ensure_wallet(self, org: str, *, name: str | None = None) -> Wallet:
        body = {"org": org} | ({"name": name} if name else {})
        return Wallet.model_validate(await self._call("POST", "/v1/wallets", json=body))

    async def wallet(self, wallet_id: str) -> Wallet:
        return Wallet.model_validate(await self._call("GET", f"/v1/wallets/{segment(wallet_id)}"))

    async def credit(
        self,
        wallet_id: str,
        *,
        amount: int,
        token_type: Literal["purchased", "earned"],
        reason: str,
        key: str,
        reference_id: str | None = None,
    ) -> Written:
        body = {
            "amount": amount,
            "tokenType": token_type,
            "reason": reason,
            "referenceId": reference_id,
            "idempotencyKey": key,
        }
        return await self._write(f"/v1/wallets/{segment(wallet_id)}/credits", body)

    async def charge(
        self,
        wallet_id: str,
        *,
        amount: int,
        kind: ChargeKind,
        service: str,
        environment: str,
        key: str,
        reason: str | None = None,
        route: str | None = None,
    ) -> Written:
        body = {
            "amount": amount,
            "kind": kind,
            "service": service,
            "environment": environment,
            "idempotencyKey": key,
            "reason": reason,
            "route": route,
        }
        return await self._write(f"/v1/wallets/{segment(wallet_id)}/charges", body)

    async def ledger(
        self,
        wallet_id: str,
        *,
        kind: str | None = None,
        service: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> LedgerPage:
        params = _params(kind=kind, service=service, since=since, limit=limit, cursor=cursor)
        answer = await self._call("GET", f"/v1/wallets/{segment(wallet_id)}/ledger", params=params)
        return LedgerPage.model_validate(answer)

    async def spend(self, wallet_id: str, *, since: datetime | None = None) -> list[SpendItem]:
        answer = await self._call(
            "GET", f"/v1/wallets/{segment(wallet_id)}/spend", params=_params(since=since)
        )
        return Spend.model_validate(answer).items

    async def reserve(self, wallet_id: str, *, tier: str, months: int = 3) -> Reserve:
        params = {"tier": tier, "months": months}
        answer = await self._call("GET", f"/v1/wallets/{segment(wallet_id)}/reserve", params=params)
        return Reserve.model_validate(answer)

    async def usage(self, events: list[UsageEvent]) -> list[UsageResult]:
        body = {"events": [e.model_dump(by_alias=True) for e in events]}
        answer = await self._call("POST", "/v1/usage", json=body)
        return UsageAnswer.model_validate(answer).results

    async def audit(self, wallet_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("GET", f"/v1/wallets/{segment(wallet_id)}/audit")
        return answer

    # --- plumbing ----------------------------------------------------------------------------

    async def _write(self, path: str, body: dict[str, Any]) -> Written:
        response = await self._send(
            "POST", path, json={k: v for k, v in body.items() if v is not None}
        )
        entry = Written.model_validate(response.json())
        entry.replayed = response.headers.get("idempotent-replayed") == "true"
        return entry

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self._send(method, path, **kwargs)).json()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        # Every call is safe to resend: reads trivially, writes by their key.
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                if last:
                    raise WalletUnreachable(
                        f"the wallet at {self._http.base_url} could not be reached: "
                        f"{type(exc).__name__}"
                    ) from exc
            else:
                if response.is_success:
                    return response
                error = _error_of(response)
                if last or not _is_retried(error):
                    raise error
            await asyncio.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")


def _is_retried(error: TawaError) -> bool:
    return isinstance(error, WalletUnreachable) or error.code in _RETRIED_CODES


def _error_of(response: httpx.Response) -> TawaError:
    try:
        body = response.json()["error"]
        code, message = str(body["code"]), str(body["message"])
        details = body.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code, message, details = "wallet_error", response.text[:200], {}
    if response.status_code >= 500:
        return WalletUnreachable(f"the wallet failed: {message}", details=details)
    cls = _BY_CODE.get(code, WalletClientError)
    return cls(message, code=code, status=response.status_code, details=details)


def _params(**values: Any) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, datetime) else v
        for k, v in values.items()
        if v is not None
    }
