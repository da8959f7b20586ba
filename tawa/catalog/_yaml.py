"""A YAML reader that remembers where every value came from.

We let libyaml (through PyYAML's C composer) build the node tree and construct
the values ourselves, because we need three things the usual loaders drop:

* the line and column of every key and value, for messages;
* duplicate keys, which every common loader silently resolves to the last one;
* YAML 1.2 core-schema scalars, as Backstage's own reader uses: ``on``, ``no``
  and ``0755`` stay strings and numbers do not grow sexagesimal surprises.

ruamel.yaml gives positions too, but takes about a second for the corpus's
1,000-component file against well under a tenth for libyaml; see
``bench/preflight.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from tawa.catalog.problems import FieldPath

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 100
MAX_VALUES = 200_000
"""Values built per file, aliases expanded; stops "billion laughs" files."""

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TRUE = re.compile(r"^(?:true|True|TRUE)$")
_FALSE = re.compile(r"^(?:false|False|FALSE)$")
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")


@dataclass(frozen=True, slots=True)
class Mark:
    line: int
    column: int


@dataclass(slots=True)
class Document:
    """One YAML document: its data and the position of each value and key."""

    index: int
    start: Mark
    data: Any
    values: dict[FieldPath, Mark] = field(default_factory=dict)
    keys: dict[FieldPath, Mark] = field(default_factory=dict)

    def mark(self, path: FieldPath, *, key: bool = False) -> Mark:
        """Where ``path`` is, or its nearest ancestor that exists."""
        if key and path in self.keys:
            return self.keys[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), self.start)


class YamlProblem(Exception):
    """The YAML itself is broken at ``mark``; ``path`` is within ``document``."""

    def __init__(self, message: str, mark: Mark, *, path: FieldPath = ()) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.path = path


DuplicateHook = Callable[[Document, FieldPath, Mark, Mark], None]


def load_documents(text: str, *, on_duplicate: DuplicateHook) -> list[Document]:
    """Every document of ``text``; raises :class:`YamlProblem` on broken YAML.

    Empty documents (a trailing ``---``) are skipped. Duplicate keys are
    reported through ``on_duplicate`` and the last value is kept, so the caller
    can go on checking the rest of the file.
    """
    builder = _Builder(on_duplicate, text)
    documents: list[Document] = []
    try:
        for index, node in enumerate(yaml.compose_all(text, Loader=_Loader)):
            if node is None:
                continue
            document = Document(index=index, start=_mark(node.start_mark), data=None)
            document.data = builder.build(document, node)
            if document.data is not None:
                documents.append(document)
    except yaml.MarkedYAMLError as exc:
        where = exc.problem_mark or exc.context_mark
        mark = _mark(where) if where is not None else Mark(1, 1)
        problem = exc.problem or exc.context or "not valid YAML"
        raise YamlProblem(_yaml_message(problem, exc.context, text, mark), mark) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {exc}", Mark(1, 1)) from None
    return documents


def _yaml_message(problem: str, context: str | None, text: str, mark: Mark) -> str:
    message = f"YAML syntax error: {problem}"
    if context and context not in problem:
        message += f" ({context})"
    lines = text.splitlines()
    line = lines[mark.line - 1] if 0 < mark.line <= len(lines) else ""
    char = line[mark.column - 1 : mark.column]
    if char == "\t":
        message += "; YAML indents with spaces, not tabs"
    elif "{{" in line or "{%" in line or "${" in line:
        message += "; this looks like an unrendered template, render it first"
    return message


def _mark(mark: Any) -> Mark:
    return Mark(mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, on_duplicate: DuplicateHook, text: str) -> None:
        self._on_duplicate = on_duplicate
        self._text = text
        self._count = 0
        self._stack: set[int] = set()

    def build(self, document: Document, node: yaml.Node) -> Any:
        return self._value(document, node, ())

    def _value(self, doc: Document, node: yaml.Node, path: FieldPath) -> Any:
        self._count += 1
        if self._count > MAX_VALUES:
            raise YamlProblem("too many values (aliases expand too far)", _mark(node.start_mark))
        if len(path) > MAX_DEPTH:
            raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels", _mark(node.start_mark))
        doc.values[path] = _mark(node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            if node.style or self._text.startswith("!", node.start_mark.index):
                return node.value  # quoted, block, or explicitly tagged: the text as written
            return _plain_scalar(node.value)
        if id(node) in self._stack:
            raise YamlProblem("an alias refers to its own ancestor", _mark(node.start_mark))
        self._stack.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self._value(doc, item, (*path, i)) for i, item in enumerate(node.value)]
            return self._mapping(doc, node, path)
        finally:
            self._stack.discard(id(node))

    def _mapping(self, doc: Document, node: yaml.Node, path: FieldPath) -> dict[str, Any]:
        # Merge keys (<<: *base) first, so the mapping's own keys and their
        # positions win over what they merge in.
        base: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if _is_merge(key_node):
                sources = value_node.value if value_node.id == "sequence" else [value_node]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        raise YamlProblem("'<<' must merge a mapping", _mark(source.start_mark))
                    for key, value in self._mapping(doc, source, path).items():
                        base.setdefault(key, value)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem(
                    "a mapping key must be a plain value, not a list or mapping"
                    " (unquoted '{{ }}' template braces do this; quote the value)",
                    _mark(key_node.start_mark),
                    path=path,
                )
            if _is_merge(key_node):
                continue
            key = str(key_node.value)
            child = (*path, key)
            if key in out:
                self._on_duplicate(doc, child, doc.keys[child], _mark(key_node.start_mark))
            doc.keys[child] = _mark(key_node.start_mark)
            out[key] = self._value(doc, value_node, child)
        for key, value in base.items():
            out.setdefault(key, value)
        return out


def _is_merge(key_node: yaml.Node) -> bool:
    return isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" and not key_node.style


def _plain_scalar(text: str) -> Any:
    if _NULL.match(text):
        return None
    if _TRUE.match(text):
        return True
    if _FALSE.match(text):
        return False
    try:
        if _INT.match(text):
            return int(text)
        if _OCT.match(text):
            return int(text[2:], 8)
        if _HEX.match(text):
            return int(text[2:], 16)
    except ValueError:  # more digits than Python converts; keep the text
        return text
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return text
