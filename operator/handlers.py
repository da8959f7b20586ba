"""The kopf handlers for ``TawaService``.

Thin on purpose: each handler takes the object's lock and hands the body to
:mod:`tawa.operator.reconcile`, which orders the steps, records conditions
and decides retry versus give-up. kopf's finalizer keeps a deleted service
around until every step's ``remove`` has run.

One reconcile at a time per service: the drift timer and the change handlers
run in separate kopf tasks, and two Helm upgrades of one release would trip
over each other.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kopf

from tawa.operator import hosting, pipeline, reconcile
from tawa.operator.kube import Kube, connect
from tawa.operator.settings import OperatorSettings
from tawa.operator.step import Step
from tawa.resource import GROUP, PLURAL, VERSION

FINALIZER = f"{GROUP}/finalizer"
RESOURCE = (GROUP, VERSION, PLURAL)

# Read at import: kopf needs the timer interval when the decorator runs.
_settings = OperatorSettings()


@dataclass
class Runtime:
    """What every handler shares, built once at start-up and kept in kopf's memo."""

    settings: OperatorSettings
    steps: list[Step]
    kube: Kube
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def lock(self, uid: str) -> asyncio.Lock:
        return self.locks.setdefault(uid, asyncio.Lock())


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    ours = OperatorSettings()
    if ours.helm_home is None:
        ours.helm_home = Path(tempfile.mkdtemp(prefix="tawa-helm-"))
    settings.watching.server_timeout = ours.watch_server_timeout
    settings.watching.client_timeout = ours.watch_client_timeout
    settings.queueing.worker_limit = ours.worker_limit
    settings.posting.level = logging.INFO
    settings.posting.loggers = True  # per-object log lines become Events
    logging.getLogger("kopf.objects").addFilter(_quiet_drift_ticks)
    # Peering elects one active operator when its CRD exists; without it (a
    # bare local API) every operator runs rather than all of them pausing.
    settings.peering.name = ours.peering_name
    settings.peering.mandatory = False
    settings.peering.standalone = ours.standalone
    settings.persistence.finalizer = FINALIZER
    settings.execution.max_workers = max(4, ours.helm_concurrency * 2)
    memo["tawa"] = Runtime(
        settings=ours,
        steps=pipeline.load(ours),
        kube=connect(ours.kubeconfig),
    )


def _quiet_drift_ticks(record: logging.LogRecord) -> bool:
    """Keep kopf's "timer succeeded" lines out of Events: a tick that repaired
    nothing must cost no API write."""
    quiet = ("Timer 'repair_drift' succeeded", "Timer 'charge_hosting' succeeded")
    if record.getMessage().startswith(quiet):
        record.k8s_skip = True
    return True


def _runtime(memo: kopf.Memo) -> Runtime:
    runtime: Runtime = memo["tawa"]
    return runtime


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
async def reconcile_service(
    body: kopf.Body, uid: str, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    runtime = _runtime(memo)
    async with runtime.lock(uid):
        await reconcile.ensure(
            body,
            steps=runtime.steps,
            settings=runtime.settings,
            writer=runtime.kube.patch_status,
            logger=logger,
        )


@kopf.on.delete(*RESOURCE)
async def remove_service(
    body: kopf.Body, uid: str, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    runtime = _runtime(memo)
    async with runtime.lock(uid):
        await reconcile.remove(
            body,
            steps=runtime.steps,
            settings=runtime.settings,
            writer=runtime.kube.patch_status,
            logger=logger,
        )
    runtime.locks.pop(uid, None)


@kopf.timer(
    *RESOURCE,
    interval=_settings.drift_interval,
    initial_delay=_settings.drift_interval,
    idle=None,
)
async def repair_drift(
    body: kopf.Body, uid: str, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    """Re-run ``ensure`` so hand edits are put back; costs no writes when nothing drifted."""
    if not reconcile.drift_is_due(body["metadata"], body.get("status") or {}):
        return
    runtime = _runtime(memo)
    lock = runtime.lock(uid)
    if lock.locked():
        return  # a change handler is reconciling right now; it does the same work
    async with lock:
        await reconcile.ensure(
            body,
            steps=runtime.steps,
            settings=runtime.settings,
            writer=runtime.kube.patch_status,
            logger=logger,
        )


@kopf.timer(*RESOURCE, interval=_settings.hosting_charge_interval, idle=None)
async def charge_hosting(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """Charge this hour's hosting gas; keyed per hour, so extra ticks charge nothing."""
    await hosting.charge_service(body, settings=_runtime(memo).settings, logger=logger)
