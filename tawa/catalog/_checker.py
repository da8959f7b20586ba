"""Where problems of one document are collected, and field paths we share."""

from __future__ import annotations

from tawa.catalog import rules
from tawa.catalog._yaml import Document
from tawa.catalog.problems import FieldPath, Problem, Severity, field_name


def annotation_path(name: str) -> tuple[str, ...]:
    """The field path of the Tawa annotation ``name`` (without its prefix)."""
    return ("metadata", "annotations", rules.ANNOTATION_PREFIX + name)


class Checker:
    """Collects the problems of one document of one file."""

    def __init__(self, document: Document, *, source: str, problems: list[Problem]) -> None:
        self.document = document
        self.source = source
        self.problems = problems
        self.failed = False

    def error(self, path: FieldPath, message: str, *, code: str, key: bool = False) -> None:
        self.failed = True
        self._add(Severity.ERROR, path, message, code=code, key=key)

    def warn(self, path: FieldPath, message: str, *, code: str, key: bool = False) -> None:
        self._add(Severity.WARNING, path, message, code=code, key=key)

    def _add(
        self, severity: Severity, path: FieldPath, message: str, *, code: str, key: bool
    ) -> None:
        mark = self.document.mark(path, key=key)
        self.problems.append(
            Problem(severity, self.source, mark.line, mark.column, field_name(path), message, code)
        )
