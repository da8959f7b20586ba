"""Problems found in a catalog file, and the one error type the parser raises.

A problem says where (file, line, column), which field (``spec.routes[0].gas``)
and what is wrong, showing the offending value, in a sentence that tells how
to fix it. The parser collects every problem of a file before it gives up, so a
user fixes them all in one round; warnings never stop a deploy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tawa.errors import TawaError

Key = str | int
FieldPath = tuple[Key, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    severity: Severity
    source: str
    """The file name as the user gave it."""
    line: int
    """1-based; 0 when the problem concerns the file as a whole."""
    column: int
    field: str
    """Dotted field path such as ``spec.routes[0].gas``; empty for the file itself."""
    message: str
    code: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}:{self.column}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "file": self.source,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
            "code": self.code,
        }


def field_name(path: Sequence[Key]) -> str:
    """``("spec", "routes", 0, "gas")`` → ``spec.routes[0].gas``.

    Keys that are not plain identifiers (annotation names) are quoted:
    ``metadata.annotations["insureco.io/port"]``.
    """
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        elif key.replace("_", "").replace("-", "").isalnum():
            out += f".{key}" if out else key
        else:
            out += f'["{key}"]'
    return out


def show(value: Any, limit: int = 60) -> str:
    """A short, quoted rendering of a user's value for a message."""
    text = repr(value) if isinstance(value, str) else _plain(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: Any) -> str:
    if value is None:
        return "null (empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


class CatalogError(TawaError):
    """A catalog file was refused; ``problems`` holds every error and warning."""

    code = "catalog_invalid"
    status = 422

    def __init__(self, problems: Iterable[Problem], *, message: str | None = None) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity is Severity.ERROR]
        summary = message or (
            str(errors[0]) if len(errors) == 1 else f"{len(errors)} problems in the catalog"
        )
        super().__init__(summary, details={"problems": [p.to_dict() for p in self.problems]})

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]
