"""Delivering links by email, behind a small pluggable interface.

Production plugs in a real mail relay. The dev sender appends each message,
link included, to an outbox file that only the operator of the machine (and
the tests) read, and logs that a message went out WITHOUT its link: the link
carries a single-use token and must never reach a log line.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class Sender(Protocol):
    def send(self, *, to: str, subject: str, kind: str, link: str) -> None: ...


class OutboxSender:
    """Writes messages to a JSON-lines file (or keeps them in memory)."""

    def __init__(self, path: str = "") -> None:
        self.path = Path(path) if path else None
        self.messages: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def send(self, *, to: str, subject: str, kind: str, link: str) -> None:
        message = {"to": to, "subject": subject, "kind": kind, "link": link, "at": str(time.time())}
        with self._lock:
            self.messages.append(message)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as outbox:
                    outbox.write(json.dumps(message) + "\n")
        log.info("Sent a %s message to %s (link written to the outbox).", kind, _masked(to))


def _masked(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"
