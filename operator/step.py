"""The interface every provisioner step implements.

A step owns one concern of a TawaService (the deploy gate, databases, the
OAuth client, the Helm release, ...). The pipeline calls ``ensure`` in order on
create, update, resume and from the drift timer, and ``remove`` in reverse
order behind the finalizer. A step must be idempotent: read the actual state,
change only what differs, and report what it found.

Failure is signalled with kopf's errors so the handler decides retry versus
give-up in one place:

- ``kopf.PermanentError`` for input the user must change (bad spec);
- ``kopf.TemporaryError(message, delay=seconds)`` for a dependency that is not
  ready yet. The message lands in the step's condition, so say what is being
  waited for.

Never put a secret in an ``Outcome``, a log line or an exception message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ``ensure`` found and did, recorded as the step's condition."""

    ok: bool
    reason: str
    """CamelCase reason, e.g. ``Provisioned``, ``Skipped``, ``WalletUnreachable``."""
    message: str
    """A sentence a user can act on."""
    changed: bool = False


@dataclass(slots=True)
class StepContext:
    """Everything a step may read or contribute for one reconcile of one service."""

    name: str
    namespace: str
    environment: str
    spec: Any
    """The validated ``tawa.resource.TawaServiceSpec``."""
    uid: str
    generation: int
    settings: Any
    """The operator's settings (``tawa.operator.settings.OperatorSettings``)."""
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger]
    status: dict[str, Any] = field(default_factory=dict)
    """The resource's current status, read-only."""
    env: dict[str, str] = field(default_factory=dict)
    """Plain environment variables for the release (no secrets)."""
    secret_refs: list[str] = field(default_factory=list)
    """Names of Secrets in ``namespace`` whose keys become environment variables."""
    facts: dict[str, Any] = field(default_factory=dict)
    """Values one step hands to a later one (e.g. the release's upstream address)."""
    deleting: bool = False
    annotations: dict[str, str] = field(default_factory=dict)
    """The resource's metadata annotations, read-only (e.g. a credential rotation request)."""


class Step(Protocol):
    name: ClassVar[str]
    """Short name used in logs, e.g. ``databases``."""
    condition: ClassVar[str]
    """The status condition this step owns, e.g. ``DatabasesReady``."""

    async def ensure(self, ctx: StepContext) -> Outcome: ...

    async def remove(self, ctx: StepContext) -> None: ...
