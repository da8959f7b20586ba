"""Hourly hosting gas: what the operator's kopf timer charges for a running service.

Each tick charges the tier's gas for the current UTC hour under the key
``hosting:{org}:{service}:{environment}:{YYYYMMDDHH}``. The wallet records a
key once, so a tick repeated within the hour, an operator restart or several
operator replicas never charge an hour twice; the timer only has to tick more
than once an hour so that a failed tick is made good by the next one.

Charged: services whose release exists (``Released`` is True) and that run at
least one replica; platform services are not charged. Not charged: hours in
which no tick succeeded (an operator down for three hours does not bill them
afterwards) — TODO: back-fill missed hours once the wallet can tell the last
charged hour per service (issue 4 follow-up).

A wallet that cannot pay or cannot be reached is logged as a warning; the
service keeps running (the reference does not say what happens at zero).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tawa.clients.wallet import (
    InsufficientFunds,
    WalletClient,
    WalletClientError,
    WalletUnreachable,
    wallet_id,
)
from tawa.operator.settings import OperatorSettings
from tawa.tiers import tier_spec

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def hosting_key(org: str, service: str, environment: str, moment: datetime) -> str:
    """The idempotency key of one service's hosting charge for the hour of ``moment``."""
    return f"hosting:{org}:{service}:{environment}:{moment.astimezone(UTC):%Y%m%d%H}"


@dataclass(frozen=True, slots=True)
class HostingCharge:
    key: str
    amount: int
    outcome: str
    """``charged``, ``already-charged``, ``insufficient-funds``, ``wallet-unreachable``
    or ``refused``."""
    entry_id: str | None = None


async def charge_hour(
    wallet: WalletClient,
    *,
    org: str,
    service: str,
    environment: str,
    tier: str,
    clock: Clock = _utcnow,
    logger: Logger | None = None,
) -> HostingCharge:
    """Charge ``tier``'s gas for the current hour, once, whatever the number of calls."""
    log = logger or logging.getLogger(__name__)
    moment = clock().astimezone(UTC)
    key, amount = hosting_key(org, service, environment, moment), tier_spec(tier).gas_per_hour
    try:
        entry = await wallet.charge(
            wallet_id(org),
            amount=amount,
            kind="hosting",
            service=service,
            environment=environment,
            key=key,
            reason=f"{tier} hosting for {moment:%Y-%m-%d %H}:00 UTC",
        )
    except InsufficientFunds:
        log.warning(f"Org {org} cannot pay the hosting of {service} ({environment}) for this hour.")
        return HostingCharge(key, amount, "insufficient-funds")
    except WalletUnreachable as exc:
        log.warning(f"Hosting of {service} ({environment}) not charged yet: {exc.message}")
        return HostingCharge(key, amount, "wallet-unreachable")
    except WalletClientError as exc:
        log.error(f"The wallet refused the hosting charge of {service}: {exc.code}: {exc.message}")
        return HostingCharge(key, amount, "refused")
    outcome = "already-charged" if entry.replayed else "charged"
    if not entry.replayed:
        log.info(
            f"Charged {amount} gas for an hour of {tier} hosting of {service} ({environment})."
        )
    return HostingCharge(key, amount, outcome, entry.id)


async def charge_service(
    body: Mapping[str, Any],
    *,
    settings: OperatorSettings,
    logger: Logger,
    clock: Clock = _utcnow,
    wallet: Callable[[], WalletClient] | None = None,
) -> HostingCharge | None:
    """The timer's body: charge the hour for one TawaService, if it is billable."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    name = body["metadata"]["name"]
    if not _is_billable(body, spec, status, settings):
        return None
    factory = wallet or (
        lambda: WalletClient(
            settings.wallet_url, internal_key=settings.internal_key.get_secret_value()
        )
    )
    async with factory() as client:
        return await charge_hour(
            client,
            org=spec["owner"],
            service=name,
            environment=spec["environment"],
            tier=spec.get("tier") or "nano",
            clock=clock,
            logger=logger,
        )


def _is_billable(
    body: Mapping[str, Any],
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    settings: OperatorSettings,
) -> bool:
    meta = body["metadata"]
    if meta.get("deletionTimestamp") or settings.is_platform_service(meta["name"]):
        return False
    if int(spec.get("replicas", 1)) == 0:
        return False
    released = [c for c in status.get("conditions") or [] if c.get("type") == "Released"]
    return bool(released) and released[0].get("status") == "True"
