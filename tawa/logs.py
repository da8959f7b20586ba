"""Logging set-up shared by every process: JSON lines, secrets redacted.

Deployed services log one JSON object per line. A filter masks anything that
looks like a credential (bearer tokens, ``password=``, ``client_secret``,
connection strings with a password) before it reaches any handler, as a last
line of defence: code must still never pass secrets to a logger.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_SECRET_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (
        re.compile(
            r"(?i)((?:password|passwd|secret|client_secret|token|refresh_token|access_token|"
            r"code_verifier|api[_-]?key|x-internal-key)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"
        ),
        r"\1[redacted]",
    ),
    (
        re.compile(r"((?:mongodb(?:\+srv)?|redis|rediss|bolt|neo4j)://[^:/\s@]+:)[^@\s]+@"),
        r"\1[redacted]@",
    ),
    (re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"), "[redacted-jwt]"),
]


# Every pattern above needs one of these words; most log lines have none, and one
# search is cheaper than four substitutions (this runs for every access log line).
_MAYBE_SECRET = re.compile(
    r"(?i)bearer|passw|secret|token|code_verifier|api[_-]?key|internal-key|://|eyj"
)


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential masked."""
    if not _MAYBE_SECRET.search(text):
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "component": self.component,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            payload.update({k: v for k, v in extra.items() if k not in payload})
        if record.exc_info:
            payload["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


def configure(component: str, *, level: str = "INFO", json_lines: bool = True) -> None:
    """Route the root logger to stderr, as JSON lines or plain text."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter(component))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
