"""Keeping the local API's objects across restarts (``--state-dir``).

The store is written to ``state.json`` in the state folder when it changed
(checked every couple of seconds) and on shutdown, atomically; it is read
back at start. A SIGKILL loses at most the last interval. The event log is
not kept: watches from before a restart get a 410 and list again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from tawa.localkube.server import LocalKube

logger = logging.getLogger("tawa.localkube")

FILE = "state.json"


def restore(handler: LocalKube, folder: Path) -> None:
    path = folder / FILE
    if not path.exists():
        return
    handler.restore(json.loads(path.read_text()))
    logger.info("Restored the objects of revision %s from %s.", handler.store.revision, path)


def save(handler: LocalKube, folder: Path) -> None:
    _write(folder, handler.store.dump())


def _write(folder: Path, state: dict[str, Any]) -> None:
    partial = folder / f".{FILE}.partial"
    partial.write_text(json.dumps(state))
    partial.chmod(0o600)  # Secrets are in there
    partial.replace(folder / FILE)


async def keep(handler: LocalKube, folder: Path, *, interval: float = 2.0) -> None:
    """Save whenever the revision moved; runs until cancelled."""
    saved = handler.store.revision
    while True:
        await asyncio.sleep(interval)
        if handler.store.revision != saved:
            saved = handler.store.revision
            # Stored objects are never changed in place: the dump can be
            # serialised off the event loop.
            await asyncio.to_thread(_write, folder, handler.store.dump())
