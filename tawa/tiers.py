"""Pod tiers: memory, CPU, hosting gas per hour and the deploy reserve.

One table serves every component (catalog validation, the service chart's
requests and limits, the wallet's deploy gate, hourly hosting charges).

The published tables disagree (reference section 8). We take the docs pages'
730-hour month (nano: 5 gas/h x 730 h = 3,650 a month, reserve 10,950 for
three months) and the skill table's CPU figures (0.25 / 0.5 / 1 / 2 / 4 cores),
which the docs pages leave out. Memory is the same in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

HOURS_PER_MONTH = 730
DEPLOY_GATE_MONTHS = 3


class Tier(StrEnum):
    NANO = "nano"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    XLARGE = "xlarge"


@dataclass(frozen=True, slots=True)
class TierSpec:
    tier: Tier
    memory: str
    """Kubernetes quantity used for both request and limit."""
    cpu: str
    """Kubernetes quantity used as the limit; the request is half of it."""
    cpu_request: str
    gas_per_hour: int

    @property
    def gas_per_month(self) -> int:
        return self.gas_per_hour * HOURS_PER_MONTH

    def reserve(self, months: int = DEPLOY_GATE_MONTHS) -> int:
        """Tokens an org must hold to deploy at this tier for ``months``."""
        if months < 1:
            raise ValueError(f"months must be at least 1, got {months}")
        return self.gas_per_hour * HOURS_PER_MONTH * months


TIERS: dict[Tier, TierSpec] = {
    Tier.NANO: TierSpec(Tier.NANO, memory="256Mi", cpu="250m", cpu_request="125m", gas_per_hour=5),
    Tier.SMALL: TierSpec(
        Tier.SMALL, memory="512Mi", cpu="500m", cpu_request="250m", gas_per_hour=10
    ),
    Tier.MEDIUM: TierSpec(Tier.MEDIUM, memory="1Gi", cpu="1", cpu_request="500m", gas_per_hour=23),
    Tier.LARGE: TierSpec(Tier.LARGE, memory="2Gi", cpu="2", cpu_request="1", gas_per_hour=42),
    Tier.XLARGE: TierSpec(Tier.XLARGE, memory="4Gi", cpu="4", cpu_request="2", gas_per_hour=83),
}

DEFAULT_TIER = Tier.NANO


def tier_spec(name: str | Tier) -> TierSpec:
    """The tier called ``name``; raises ``ValueError`` naming the valid ones."""
    try:
        return TIERS[Tier(name)]
    except ValueError:
        valid = ", ".join(t.value for t in Tier)
        raise ValueError(f"unknown pod tier {name!r}; valid tiers: {valid}") from None
