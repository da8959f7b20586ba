"""The deploy gate: an org must hold three months of hosting gas to deploy.

First step of the pipeline, before anything is provisioned (reference 4.5):
the wallet's reserve check for the service's tier must pass. The platform's
own services (``TAWA_PLATFORM_SERVICES``) skip it. The gate fails open: if the
wallet cannot be reached the deploy goes on and the ``GateChecked`` condition
says so. A short reserve is a temporary error with a long delay, so the
service deploys on its own a minute after the org buys the missing tokens.

The reserve is checked, not held (see :mod:`tawa.wallet.reports`). A
generation the gate admitted stays admitted: the drift timer re-runs every
step, and a wallet spent down by hosting must not stop drift repair of a
service that is already running. One let in while the wallet was down is
checked again on later reconciles; a short reserve then only shows in the
condition (reason ``ReserveShort``), since the service runs already.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import kopf

from tawa.clients.wallet import (
    Reserve,
    WalletClient,
    WalletClientError,
    WalletNotFound,
    WalletUnreachable,
    wallet_id,
)
from tawa.operator.settings import OperatorSettings
from tawa.operator.step import Outcome, StepContext
from tawa.tiers import DEPLOY_GATE_MONTHS

CHECKED = "ReserveCovered"
UNREACHABLE = "WalletUnreachable"
SHORT = "ReserveShort"


class DeployGate:
    name: ClassVar[str] = "gate"
    condition: ClassVar[str] = "GateChecked"

    def __init__(
        self,
        settings: OperatorSettings,
        *,
        wallet: Callable[[], WalletClient] | None = None,
    ) -> None:
        self.settings = settings
        self._wallet = wallet or self._default_wallet

    def _default_wallet(self) -> WalletClient:
        key = self.settings.internal_key.get_secret_value()
        return WalletClient(self.settings.wallet_url, internal_key=key, timeout=5.0, retries=1)

    async def ensure(self, ctx: StepContext) -> Outcome:
        if self.settings.is_platform_service(ctx.name):
            return Outcome(True, "Skipped", f"{ctx.name} is a platform service: no deploy gate.")
        earlier = _passed(ctx)
        if earlier is not None and earlier.reason == CHECKED:
            return earlier

        org, tier = ctx.spec.owner, ctx.spec.tier.value
        try:
            reserve = await self._reserve(org, tier)
        except WalletUnreachable as exc:
            # Warn once per outage, not on every drift tick: each warning is an Event.
            if earlier is None or earlier.reason != UNREACHABLE:
                ctx.logger.warning(f"Deploy gate of {ctx.namespace}/{ctx.name}: {exc.message}")
            return Outcome(
                True,
                UNREACHABLE,
                f"The wallet could not be reached, so the {tier} reserve of org {org} was not "
                "checked; deploying anyway (the gate fails open) and checking again later.",
            )
        except WalletClientError as exc:
            raise kopf.TemporaryError(
                f"The wallet refused the reserve check ({exc.code}: {exc.message}).",
                delay=self.settings.retry_delay,
            ) from exc
        if not reserve.passes and earlier is not None:
            # Let in while the wallet was down: it runs already, so say what is
            # missing without holding up the rest of the pipeline.
            return Outcome(
                True,
                SHORT,
                f"Deployed while the wallet was unreachable. {_short(org, tier, reserve)}",
            )
        if not reserve.passes:
            # Long enough to stay quiet, short enough to deploy soon after a purchase.
            delay = self.settings.gate_retry_delay
            message = f"Not deployed yet. {_short(org, tier, reserve)}"
            raise kopf.TemporaryError(message, delay=delay)
        return Outcome(
            True,
            CHECKED,
            f"Org {org} holds {reserve.available:,} tokens, covering the {reserve.required:,} "
            f"a {tier} service needs for {reserve.months} months of hosting.",
        )

    async def _reserve(self, org: str, tier: str) -> Reserve:
        async with self._wallet() as wallet:
            try:
                return await wallet.reserve(wallet_id(org), tier=tier, months=DEPLOY_GATE_MONTHS)
            except WalletNotFound:
                # Orgs get their wallet at registration; one deployed by kubectl
                # before registering gets it here, with the same intro grant.
                await wallet.ensure_wallet(org)
                return await wallet.reserve(wallet_id(org), tier=tier, months=DEPLOY_GATE_MONTHS)

    async def remove(self, ctx: StepContext) -> None:
        return None  # the gate provisions nothing


def _passed(ctx: StepContext) -> Outcome | None:
    """The gate's earlier verdict if this generation already got past it."""
    for condition in ctx.status.get("conditions") or []:
        if (
            condition.get("type") == DeployGate.condition
            and condition.get("status") == "True"
            and condition.get("observedGeneration") == ctx.generation
        ):
            return Outcome(True, str(condition.get("reason")), str(condition.get("message", "")))
    return None


def _short(org: str, tier: str, reserve: Reserve) -> str:
    return (
        f"Org {org} holds {reserve.available:,} tokens but a {tier} service needs "
        f"{reserve.required:,} ({reserve.months} months of hosting): {reserve.missing:,} tokens "
        f"are missing. Buy them with `tawa wallet buy {reserve.missing} --org {org}` or choose "
        "a smaller tier; the deploy continues on its own once they are there."
    )
