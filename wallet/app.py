"""Assemble the wallet service: store, ledger, auth, routes, the sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from tawa.store import is_in_memory, mongo_client
from tawa.tokens import TokenVerifier
from tawa.wallet.api import build_router
from tawa.wallet.auth import Gatekeeper
from tawa.wallet.errors import WalletError
from tawa.wallet.ledger import Ledger
from tawa.wallet.settings import WalletSettings
from tawa.web import create_app

log = logging.getLogger(__name__)


def build_ledger(settings: WalletSettings, client: Any = None) -> Ledger:
    client = client if client is not None else mongo_client(settings.mongodb_uri)
    ledger = Ledger(
        client[settings.wallet_database],
        thread_safe=not is_in_memory(settings.mongodb_uri),
        lease_seconds=settings.wallet_pending_lease_seconds,
        replay_wait_seconds=settings.wallet_replay_wait_seconds,
        intro_grant=settings.wallet_intro_grant,
    )
    ledger.ensure_indexes()
    return ledger


def build_app(settings: WalletSettings | None = None, *, ledger: Ledger | None = None) -> FastAPI:
    settings = settings or WalletSettings()
    ledger = ledger or build_ledger(settings)
    verifier = None
    if settings.identity_jwks_url:
        verifier = TokenVerifier(
            jwks_url=settings.identity_jwks_url,
            issuer=settings.identity_issuer or settings.identity_url,
            audience=settings.token_audience,
        )
    gatekeeper = Gatekeeper(
        internal_key=settings.internal_key.get_secret_value(), verifier=verifier
    )

    def ping() -> bool:
        try:
            ledger.wallets.find_one({"_id": "-readiness-"})
        except Exception:  # any store failure means "not ready"
            return False
        return True

    async def store_is_reachable() -> bool:
        # Off the event loop: an unreachable MongoDB takes seconds to say so.
        return await run_in_threadpool(ping)

    app = create_app("wallet", title="Tawa wallet", readiness=[store_is_reachable])
    app.include_router(build_router(ledger, app.state.metrics_registry))
    app.state.gatekeeper = gatekeeper
    app.state.ledger = ledger
    app.router.lifespan_context = _sweeping(ledger, settings.wallet_sweep_interval_seconds)
    return app


def _sweeping(ledger: Ledger, interval: float) -> Any:
    """Settle what crashed requests left behind, at start and then periodically."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweep_forever(ledger, interval))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan


async def _sweep_forever(ledger: Ledger, interval: float) -> None:
    while True:
        try:
            settled = await run_in_threadpool(ledger.sweep)
        except WalletError as exc:
            log.warning("The pending-entry sweep failed and will run again: %s", exc.message)
        else:
            if settled:
                log.info("Settled %d pending entries left by interrupted requests.", settled)
        await asyncio.sleep(interval)
