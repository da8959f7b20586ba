"""Label and field selectors, as the ``labelSelector`` / ``fieldSelector``
query parameters of LIST, WATCH and DELETE-collection requests spell them.

Label selectors support equality (``=``, ``==``, ``!=``), set membership
(``in``, ``notin``) and existence (``key``, ``!key``). Field selectors support
``=``, ``==`` and ``!=`` on any dotted path of the object (``metadata.name``,
``metadata.namespace``, ``status.phase``, ``involvedObject.name``…).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tawa.localkube.errors import BadRequest

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_EXISTS = re.compile(rf"^(!?)\s*({_KEY})$")
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s+\(([^)]*)\)$")
_EQUALS = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*([-A-Za-z0-9_./]*)$")

Predicate = Callable[[Mapping[str, str]], bool]


def _split_terms(text: str) -> list[str]:
    """Split on the commas that are not inside ``in (a, b)`` parentheses."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    terms.append(current)
    return [term.strip() for term in terms if term.strip()]


def _label_term(term: str) -> Predicate:
    if match := _SET.match(term):
        key, operator, values_text = match.groups()
        values = {value.strip() for value in values_text.split(",") if value.strip()}
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQUALS.match(term):
        key, operator, value = match.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.match(term):
        negated, key = match.groups()
        if negated:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise BadRequest(
        f"unable to parse requirement {term!r} of the label selector; "
        "use key=value, key!=value, key in (a,b), key notin (a,b), key or !key"
    )


@dataclass(frozen=True)
class LabelSelector:
    """A parsed ``labelSelector``; the empty selector matches everything."""

    terms: tuple[Predicate, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        return cls(tuple(_label_term(term) for term in _split_terms(text or "")))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(term(labels) for term in self.terms)


def _lookup(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@dataclass(frozen=True)
class FieldSelector:
    """A parsed ``fieldSelector``: ``(path, expected value, equal?)`` terms."""

    terms: tuple[tuple[str, str, bool], ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> FieldSelector:
        terms = []
        for term in _split_terms(text or ""):
            match = _EQUALS.match(term)
            if match is None:
                raise BadRequest(
                    f"unable to parse requirement {term!r} of the field selector; "
                    "use path=value or path!=value, e.g. metadata.name=my-service"
                )
            path, operator, value = match.groups()
            terms.append((path, value, operator != "!="))
        return cls(tuple(terms))

    def with_name(self, name: str | None) -> FieldSelector:
        """Narrow to one object, as a watch on a named URL does."""
        if name is None:
            return self
        return FieldSelector((*self.terms, ("metadata.name", name, True)))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((_lookup(obj, path) == value) is equal for path, value, equal in self.terms)


@dataclass(frozen=True)
class Filter:
    """Everything a LIST or WATCH narrows its objects by."""

    namespace: str | None = None
    labels: LabelSelector = LabelSelector()
    fields: FieldSelector = FieldSelector()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        namespace = obj.get("metadata", {}).get("namespace")
        if self.namespace is not None and namespace != self.namespace:
            return False
        return self.labels.matches(obj) and self.fields.matches(obj)
