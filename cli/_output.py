"""Printing catalog problems the same way in every command.

Each problem is one unwrapped line, ``path:line:column: field: message``, so
editors and CI logs can jump to it; errors come first, warnings apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.text import Text

from tawa.catalog import Problem, Severity

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


class Format(StrEnum):
    YAML = "yaml"
    JSON = "json"


class ReportFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_problems(console: Console, problems: Sequence[Problem]) -> None:
    errors = [p for p in problems if p.severity is Severity.ERROR]
    warnings = [p for p in problems if p.severity is Severity.WARNING]
    for title, group, style in (("error", errors, "red"), ("warning", warnings, "yellow")):
        if not group:
            continue
        console.print(Text(plural(len(group), title).capitalize() + ":", style=f"bold {style}"))
        for problem in group:
            console.print(Text("  ") + Text(str(problem), style=style if title == "error" else ""))


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def refusal(service: str, message: str, details: dict[str, Any]) -> str:
    """A service's refusal as one sentence, with the fields it named.

    A 422 answer says only "the request body or parameters are invalid"; the
    field and what is wrong with it are in ``details.problems``.
    """
    problems = details.get("problems")
    if not isinstance(problems, list) or not problems:
        return f"The {service} refused: {message}"
    named = "; ".join(
        f"{p.get('field') or 'body'}: {p.get('message')}" for p in problems if isinstance(p, dict)
    )
    return f"The {service} refused: {message} ({named})"
