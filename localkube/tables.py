"""``kubectl get`` tables for custom resources.

kubectl asks for ``application/json;as=Table;g=meta.k8s.io;v=v1`` and prints
the columns the server chose. For a custom resource those are its name and
the CRD's ``additionalPrinterColumns`` (or the age, when it declares none),
with ``date`` columns shown as ages, as the real API server does. Builtin
types are answered as plain lists: kubectl then prints names and ages itself.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tawa.localkube.objects import Kind, Object
from tawa.localkube.store import Store

_NAME = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace.",
    "priority": 0,
}
_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
_STEP = re.compile(
    r"\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_]+)\s*==\s*[\"']([^\"']*)[\"']\)\]"
)
_CRDS = Kind("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CRD", namespaced=False)


def wanted(accept: str) -> bool:
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def printer_columns(store: Store, kind: Kind) -> list[dict[str, Any]] | None:
    """The CRD's columns for ``kind``'s version, or None for builtin types."""
    if not kind.group or not store.exists(_CRDS, None, f"{kind.plural}.{kind.group}"):
        return None
    crd = store.get(_CRDS, None, f"{kind.plural}.{kind.group}")
    for version in crd.get("spec", {}).get("versions", []):
        if version.get("name") == kind.version:
            return list(version.get("additionalPrinterColumns") or [_AGE])
    return [_AGE]


def table(
    objects: list[Object], columns: list[dict[str, Any]], *, include: str, revision: int
) -> dict[str, Any]:
    definitions = [_NAME] + [
        {
            "name": column["name"],
            "type": column.get("type", "string"),
            "format": column.get("format", ""),
            "description": column.get("description", ""),
            "priority": column.get("priority", 0),
        }
        for column in columns
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(revision)},
        "columnDefinitions": definitions,
        "rows": [_row(obj, columns, include) for obj in objects],
    }


def _row(obj: Object, columns: list[dict[str, Any]], include: str) -> dict[str, Any]:
    cells = [obj["metadata"]["name"]]
    cells += [_cell(find(obj, column.get("jsonPath", "")), column) for column in columns]
    row: dict[str, Any] = {"cells": cells}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        partial = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1"}
        row["object"] = {**partial, "metadata": obj["metadata"]}
    return row


def find(obj: Any, path: str) -> Any:
    """A simple JSONPath: ``.a.b``, ``.a[0]``, ``.a[?(@.type=="Ready")].status``."""
    value = obj
    for key, index, field, expected in _STEP.findall(path):
        if key:
            value = value.get(key) if isinstance(value, dict) else None
        elif index:
            value = (
                value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
            )
        else:
            items = value if isinstance(value, list) else []
            value = next(
                (i for i in items if isinstance(i, dict) and str(i.get(field)) == expected), None
            )
        if value is None:
            return None
    return value


def _cell(value: Any, column: dict[str, Any]) -> Any:
    if value is None:
        return None
    kind = column.get("type", "string")
    if kind == "date" and isinstance(value, str):
        return age(value)
    if kind == "string":
        return value if isinstance(value, str) else str(value)
    return value


def age(timestamp: str, *, now: datetime | None = None) -> str:
    """Kubernetes' short human durations: 45s, 5m30s, 3h, 2d4h, 400d."""
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<invalid>"
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y{days % 365}d"
