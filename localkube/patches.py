"""The four PATCH flavours of the Kubernetes API, on plain JSON values.

- JSON merge patch (RFC 7386), ``application/merge-patch+json``;
- strategic merge patch, ``application/strategic-merge-patch+json``: a merge
  patch where lists of named items (containers, env, ports, volumes…) merge
  by their key instead of being replaced, and ``$patch`` / ``$retainKeys`` /
  ``$setElementOrder`` directives are understood well enough for kubectl and
  Helm;
- JSON patch (RFC 6902), ``application/json-patch+json``;
- server-side apply, ``application/apply-patch+yaml``: merged like a merge
  patch (lists are atomic, owned as a whole), and the fields that the same
  field manager applied last time but no longer sends are removed. Conflicts between
  managers are not detected: every apply behaves as ``force=true``.

All functions return new values and never change their arguments.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from tawa.localkube.errors import BadRequest, Invalid

# Keys that identify the items of a list in a strategic merge, in the order tried.
_MERGE_KEYS = ("name", "containerPort", "mountPath", "devicePath", "ip", "type", "topologyKey")

JSON = Any


def merge_patch(target: JSON, patch: JSON) -> JSON:
    """RFC 7386: dicts merge key by key, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target: JSON, patch: JSON) -> JSON:
    """A merge patch that merges lists of keyed dicts item by item."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return _strip_directives(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retained = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value)
        else:
            result[key] = strategic_merge(result.get(key), value)
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [item for item in result.get(field, []) if item not in value]
    if isinstance(retained, list):
        result = {key: value for key, value in result.items() if key in retained}
    return result


def _merge_key(items: list[Any]) -> str | None:
    dicts = [item for item in items if isinstance(item, dict)]
    if not dicts or len(dicts) != len(items):
        return None
    for key in _MERGE_KEYS:
        if all(key in item for item in dicts):
            return key
    return None


def _merge_list(target: JSON, patch: list[Any]) -> list[Any]:
    current = target if isinstance(target, list) else []
    key = _merge_key(patch)
    if key is None or (current and _merge_key(current) != key):
        return [_strip_directives(item) for item in patch]
    result = copy.deepcopy(current)
    for item in patch:
        index = next((i for i, old in enumerate(result) if old.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_strip_directives(item))
        else:
            result[index] = strategic_merge(result[index], item)
    return result


def _strip_directives(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(item) for item in value]
    return copy.deepcopy(value)


def json_patch(target: JSON, operations: JSON) -> JSON:
    """RFC 6902; a failed ``test`` or a bad path is a 422, as on a real server."""
    if not isinstance(operations, list):
        raise BadRequest("a JSON patch must be a list of operations")
    result = copy.deepcopy(target)
    for operation in operations:
        result = _apply_operation(result, operation)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise Invalid(f"the JSON patch path {path!r} must start with '/'")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(document: JSON, parts: list[str], path: str) -> JSON:
    node = document
    for part in parts[:-1]:
        node = _child(node, part, path)
    return node


def _child(node: JSON, part: str, path: str) -> JSON:
    try:
        if isinstance(node, list):
            return node[int(part)]
        return node[part]
    except (KeyError, IndexError, ValueError, TypeError):
        raise Invalid(f"the JSON patch path {path!r} does not exist in the object") from None


def _get(document: JSON, path: str) -> JSON:
    node = document
    for part in _pointer(path):
        node = _child(node, part, path)
    return node


def _add(document: JSON, path: str, value: JSON) -> JSON:
    parts = _pointer(path)
    if not parts:
        return copy.deepcopy(value)
    parent, last = _parent(document, parts, path), parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else _index(last, path, upper=len(parent))
        parent.insert(index, copy.deepcopy(value))
    elif isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    else:
        raise Invalid(f"the JSON patch path {path!r} does not point into an object or a list")
    return document


def _remove(document: JSON, path: str) -> JSON:
    parts = _pointer(path)
    parent, last = _parent(document, parts, path), parts[-1] if parts else ""
    _child(parent, last, path)  # raises if absent
    if isinstance(parent, list):
        del parent[_index(last, path, upper=len(parent) - 1)]
    else:
        del parent[last]
    return document


def _index(text: str, path: str, *, upper: int) -> int:
    if not text.isdigit() or int(text) > upper:
        raise Invalid(f"the JSON patch path {path!r} has an invalid list index")
    return int(text)


def _apply_operation(document: JSON, operation: JSON) -> JSON:
    if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
        raise BadRequest(f"invalid JSON patch operation {operation!r}; it needs 'op' and 'path'")
    op, path = operation["op"], operation["path"]
    if op == "add":
        return _add(document, path, operation.get("value"))
    if op == "remove":
        return _remove(document, path)
    if op == "replace":
        _get(document, path)
        return _add(_remove(document, path), path, operation.get("value"))
    if op in ("move", "copy"):
        value = copy.deepcopy(_get(document, operation.get("from", "")))
        if op == "move":
            document = _remove(document, operation["from"])
        return _add(document, path, value)
    if op == "test":
        if _get(document, path) != operation.get("value"):
            raise Invalid(f"the JSON patch test of {path!r} failed: the value differs")
        return document
    raise BadRequest(f"unknown JSON patch operation {op!r}")


def field_paths(value: JSON, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The leaf paths of an applied object; lists count as one leaf, an empty
    dict as none (``metadata: {}`` claims nothing)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from field_paths(child, (*prefix, key))
    elif prefix:
        yield prefix


def fields_v1(value: JSON) -> dict[str, Any]:
    """The ``fieldsV1`` tree (``{"f:spec": {"f:image": {}}}``) of an applied object."""
    tree: dict[str, Any] = {}
    for path in field_paths(value):
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return tree


def paths_of_fields_v1(
    tree: dict[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    for key, child in tree.items():
        path = (*prefix, key.removeprefix("f:"))
        if child:
            yield from paths_of_fields_v1(child, path)
        else:
            yield path


def server_side_apply(target: JSON, applied: JSON, *, previous: dict[str, Any]) -> JSON:
    """Merge ``applied`` and drop what this manager applied before (``previous``)
    but no longer sends."""
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    sent = set(field_paths(applied))
    for path in paths_of_fields_v1(previous):
        if len(path) < 2 and path[:1] in (("metadata",), ("apiVersion",), ("kind",)):
            continue  # never the object's identity, whatever an old entry says
        if path not in sent and not any(path[: len(s)] == s for s in sent):
            _drop(result, path)
    # Lists are atomic, as in a CRD without list-type markers: a list sent
    # replaces the live one (a route removed from the catalog goes away).
    return merge_patch(result, applied)


def _drop(document: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = document
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)
