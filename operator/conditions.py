"""Status bookkeeping for one reconcile of one TawaService.

:class:`StatusBook` holds the status as the reconcile sees it, records one
condition per step, derives ``Ready`` and the phase, and tells the writer
whether anything differs from what is stored. Writing only on a difference is
what keeps an unchanged service free of API writes on every drift check; a
condition's ``lastTransitionTime`` moves only when its status does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tawa.operator.step import Outcome
from tawa.resource import ConditionStatus, ConditionType, Phase, TawaServiceStatus

READY = ConditionType.READY


def _now() -> datetime:
    # Whole seconds, like the API server's own timestamps, so a status read
    # back from the server compares equal to the one we wrote.
    return datetime.now(UTC).replace(microsecond=0)


class StatusBook:
    def __init__(self, current: Mapping[str, Any] | None, *, generation: int) -> None:
        self.generation = generation
        self.status = TawaServiceStatus.model_validate(dict(current or {}))
        self._stored = self.dump()

    def dump(self) -> dict[str, Any]:
        # Ready reads best last, after the steps it sums up.
        self.status.conditions.sort(key=lambda c: c.type == READY)
        return self.status.model_dump(mode="json", by_alias=True, exclude_none=True)

    def changes(self) -> dict[str, Any] | None:
        """The status to write, or ``None`` when the stored one already says it."""
        current = self.dump()
        return None if current == self._stored else current

    def mark_stored(self) -> None:
        self._stored = self.dump()

    def condition_status(self, type_: str) -> ConditionStatus | None:
        found = self.status.condition(ConditionType(type_))
        return found.status if found else None

    def record(self, type_: str, outcome: Outcome) -> None:
        """Record a step's outcome as its condition."""
        status = ConditionStatus.TRUE if outcome.ok else ConditionStatus.FALSE
        self._set(type_, status, reason=outcome.reason, message=outcome.message)

    def waiting(self, type_: str, *, reason: str, message: str) -> None:
        """A step is waiting for something; the reconcile will try again."""
        self._set(type_, ConditionStatus.FALSE, reason=reason, message=message)
        self._overall(Phase.PROVISIONING, ConditionStatus.FALSE, reason, message)

    def failed(self, type_: str | None, *, reason: str, message: str) -> None:
        """Something the user must change; no retry until the spec changes."""
        if type_ is not None:
            self._set(type_, ConditionStatus.FALSE, reason=reason, message=message)
        self._overall(Phase.FAILED, ConditionStatus.FALSE, reason, message)

    def provisioning(self) -> None:
        """A new generation is being worked on."""
        if self.status.observed_generation != self.generation or self.status.phase is None:
            self.status.phase = Phase.PROVISIONING
            self.status.message = "Reconciling the service."
        self.status.observed_generation = self.generation

    def finish(self, recorded: Iterable[str]) -> bool:
        """Derive ``Ready`` from the conditions recorded this run; ``True`` when ready."""
        pending = [t for t in recorded if self.condition_status(t) is not ConditionStatus.TRUE]
        if pending:
            message = f"Waiting for {', '.join(pending)}."
            self._overall(Phase.PROVISIONING, ConditionStatus.FALSE, "NotReady", message)
            return False
        self._overall(Phase.READY, ConditionStatus.TRUE, "AllStepsReady", "The service is ready.")
        return True

    def deleting(self) -> None:
        self.status.phase = Phase.DELETING
        self.status.message = "Removing the service."

    def _overall(self, phase: Phase, status: ConditionStatus, reason: str, message: str) -> None:
        self.status.phase = phase
        self.status.message = message
        self._set(READY, status, reason=reason, message=message)

    def _set(self, type_: str, status: ConditionStatus, *, reason: str, message: str) -> None:
        self.status.set_condition(
            ConditionType(type_),
            status,
            reason=reason,
            message=message,
            generation=self.generation,
            now=_now(),
        )
