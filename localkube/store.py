"""The objects of the local API and their history of changes.

One in-memory store for every resource, keyed by ``(group, plural)`` so that
all served versions of a type share their objects. It owns the semantics
that clients rely on and that kmock's emulator leaves out: ``uid``,
a global monotonic ``resourceVersion``, ``generation`` bumped on spec changes
only, ``creationTimestamp``, optimistic concurrency (409 on a stale
``resourceVersion``), the status subresource, and deletion behind finalizers.

Every change is appended to an event log that watches read from (see
:mod:`tawa.localkube.watch`). Stored objects are never mutated in place: each
write makes a new dict, so events and answers can share them safely.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import copy
import secrets
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tawa.localkube.errors import AlreadyExists, BadRequest, Conflict, Invalid, NotFound
from tawa.localkube.selectors import Filter

Object = dict[str, Any]
ObjectKey = tuple[str, str]  # (namespace or "", name)
TypeKey = tuple[str, str]  # (group, plural)

# Spec-less parts of an object: changing them does not bump the generation.
_NOT_SPEC = ("metadata", "status", "apiVersion", "kind")
# Metadata the server owns; clients cannot change it with an update.
_SERVER_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")


@dataclass(frozen=True)
class Kind:
    """A served resource, as resolved from a request URL."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    has_status: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> TypeKey:
        return (self.group, self.plural)

    def describe(self, name: str) -> str:
        qualified = f"{self.plural}.{self.group}" if self.group else self.plural
        return f'{qualified} "{name}"'


NAMESPACES = Kind("", "v1", "namespaces", "Namespace", namespaced=False, has_status=True)


@dataclass(frozen=True)
class Event:
    revision: int
    key: TypeKey
    type: str  # ADDED, MODIFIED or DELETED
    obj: Object
    old: Object | None = None


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """All objects, the global revision counter and the event log."""

    def __init__(self, *, history: int = 10_000) -> None:
        self.revision = 0
        self.closed = False
        self.listeners: list[Callable[[Event], None]] = []
        self._objects: dict[TypeKey, dict[ObjectKey, Object]] = defaultdict(dict)
        self._events: list[Event] = []
        self._history = history
        self._evicted = 0  # the revision of the newest event dropped from the log
        self._signal = asyncio.Event()

    # Reading.

    def get(self, kind: Kind, namespace: str | None, name: str) -> Object:
        obj = self._objects[kind.key].get((namespace or "", name))
        if obj is None:
            raise NotFound(f"{kind.describe(name)} not found", details=_details(kind, name))
        return present(kind, obj)

    def select(self, kind: Kind, flt: Filter) -> list[Object]:
        objects = self._objects[kind.key].values()
        return [present(kind, obj) for obj in objects if flt.matches(obj)]

    def exists(self, kind: Kind, namespace: str | None, name: str) -> bool:
        return (namespace or "", name) in self._objects[kind.key]

    # Writing.

    def create(self, kind: Kind, namespace: str | None, body: Object, *, dry_run: bool) -> Object:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        name = _name_for_create(kind, meta)
        namespace = _namespace_for_create(kind, namespace, meta)
        if self.exists(kind, namespace, name):
            raise AlreadyExists(
                f"{kind.describe(name)} already exists", details=_details(kind, name)
            )
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
            meta.pop(field, None)
        meta.update(name=name, uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        if namespace is not None:
            meta["namespace"] = namespace
        obj.update(apiVersion=kind.api_version, kind=kind.kind)
        _normalise(kind, obj)
        if dry_run:
            return obj
        if namespace is not None:
            self.ensure_namespace(namespace)
        return self._commit(kind.key, None, obj)

    def update(
        self,
        kind: Kind,
        current: Object,
        proposed: Object,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Object:
        """Replace ``current`` by ``proposed`` (a whole object, as PUT sends or
        a patch produced), keeping what the server owns."""
        meta = proposed.get("metadata") or {}
        if not isinstance(meta, dict):
            raise BadRequest("metadata must be an object")
        expected = meta.get("resourceVersion")
        if expected and expected != current["metadata"]["resourceVersion"]:
            raise Conflict(
                f"Operation cannot be fulfilled on {kind.describe(current['metadata']['name'])}: "
                "the object has been modified; please apply your changes to the latest version "
                "and try again",
                details=_details(kind, current["metadata"]["name"]),
            )
        new = _merge_update(kind, current, proposed, subresource=subresource)
        if new == current or dry_run:
            return present(kind, new)
        return self._commit(kind.key, current, new)

    def delete(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        *,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> Object:
        current = self.get(kind, namespace, name)
        _check_preconditions(kind, current, preconditions or {})
        if dry_run:
            return current
        return self._delete_object(kind.key, current)

    def delete_all(self, key: TypeKey, *, namespace: str | None = None, force: bool) -> None:
        """Delete a namespace's objects (behind their finalizers), or drop a
        deleted CRD's objects outright (``force``)."""
        for (object_namespace, _), obj in list(self._objects[key].items()):
            if namespace is None or object_namespace == namespace:
                self._remove(key, obj) if force else self._delete_object(key, obj)

    def ensure_namespace(self, namespace: str) -> None:
        """Namespaces exist as soon as something is put in them."""
        if not self.exists(NAMESPACES, None, namespace):
            self.create(NAMESPACES, None, {"metadata": {"name": namespace}}, dry_run=False)

    def types(self) -> list[TypeKey]:
        return [key for key, objects in self._objects.items() if objects]

    # The event log, read by watches.

    @property
    def signal(self) -> asyncio.Event:
        """Set once when the next change (or the closing) happens."""
        return self._signal

    @property
    def evicted(self) -> int:
        return self._evicted

    def events_after(self, revision: int) -> list[Event]:
        start = bisect.bisect_right(self._events, revision, key=lambda event: event.revision)
        return self._events[start:]

    def close(self) -> None:
        self.closed = True
        self._wake()

    # Internals.

    def _commit(self, key: TypeKey, old: Object | None, new: Object) -> Object:
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._remove(key, new)
        self.revision += 1
        meta["resourceVersion"] = str(self.revision)
        self._objects[key][_object_key(new)] = new
        self._record(Event(self.revision, key, "MODIFIED" if old else "ADDED", new, old))
        return new

    def _delete_object(self, key: TypeKey, current: Object) -> Object:
        """Objects with finalizers are only marked; the last finalizer's
        removal (an update) makes them go."""
        if not current["metadata"].get("finalizers"):
            return self._remove(key, current)
        if current["metadata"].get("deletionTimestamp"):
            return current
        new = copy.deepcopy(current)
        new["metadata"].update(deletionTimestamp=now(), deletionGracePeriodSeconds=0)
        return self._commit(key, current, new)

    def _remove(self, key: TypeKey, obj: Object) -> Object:
        self._objects[key].pop(_object_key(obj), None)
        self.revision += 1
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self.revision)
        self._record(Event(self.revision, key, "DELETED", gone))
        if key == NAMESPACES.key:
            for other in self.types():
                if other != NAMESPACES.key:
                    self.delete_all(other, namespace=obj["metadata"]["name"], force=False)
        return gone

    def _record(self, event: Event) -> None:
        self._events.append(event)
        if len(self._events) > 2 * self._history:
            dropped = len(self._events) - self._history
            self._evicted = self._events[dropped - 1].revision
            del self._events[:dropped]
        for listener in self.listeners:
            listener(event)
        self._wake()

    def _wake(self) -> None:
        signal, self._signal = self._signal, asyncio.Event()
        signal.set()


def present(kind: Kind, obj: Object) -> Object:
    """The object as seen through ``kind``'s version (types share objects)."""
    if obj.get("apiVersion") == kind.api_version:
        return obj
    return {**obj, "apiVersion": kind.api_version}


def _object_key(obj: Object) -> ObjectKey:
    return (obj["metadata"].get("namespace") or "", obj["metadata"]["name"])


def _details(kind: Kind, name: str) -> dict[str, Any]:
    return {"name": name, "group": kind.group, "kind": kind.plural}


def _name_for_create(kind: Kind, meta: dict[str, Any]) -> str:
    name = meta.get("name")
    if not name and meta.get("generateName"):
        name = meta["generateName"] + secrets.token_hex(3)[:5]
    if not name or not isinstance(name, str):
        raise Invalid(
            f"{kind.kind} is invalid: metadata.name: Required value: "
            "name or generateName is required"
        )
    if "/" in name or "%" in name or len(name) > 253 or name in (".", ".."):
        raise Invalid(f"{kind.kind} is invalid: metadata.name: Invalid value: {name!r}")
    return name


def _namespace_for_create(kind: Kind, namespace: str | None, meta: dict[str, Any]) -> str | None:
    if not kind.namespaced:
        meta.pop("namespace", None)
        return None
    declared = meta.get("namespace")
    if namespace and declared and declared != namespace:
        raise BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    return namespace or declared or "default"


def _merge_update(
    kind: Kind, current: Object, proposed: Object, *, subresource: str | None
) -> Object:
    if subresource == "status":
        new = copy.deepcopy(current)
        new.pop("status", None)
        if proposed.get("status") is not None:
            new["status"] = copy.deepcopy(proposed["status"])
        return new
    new = copy.deepcopy(proposed)
    new.update(apiVersion=current["apiVersion"], kind=current["kind"])
    if kind.has_status:
        new.pop("status", None)
        if "status" in current:
            new["status"] = copy.deepcopy(current["status"])
    meta = new.setdefault("metadata", {})
    old_meta = current["metadata"]
    for field in ("name", "namespace", "resourceVersion", *_SERVER_METADATA):
        meta.pop(field, None)
        if field in old_meta:
            meta[field] = old_meta[field]
    meta.setdefault("managedFields", old_meta.get("managedFields"))
    if meta["managedFields"] is None:
        del meta["managedFields"]
    changed = _spec(current) != _spec(new)
    meta["generation"] = old_meta.get("generation", 1) + (1 if changed else 0)
    _normalise(kind, new)
    return new


def _spec(obj: Object) -> Object:
    return {key: value for key, value in obj.items() if key not in _NOT_SPEC}


def _normalise(kind: Kind, obj: Object) -> None:
    """Server-side defaults: Secret ``stringData`` folds into ``data``,
    namespaces are Active."""
    if kind.key == ("", "secrets"):
        obj["type"] = obj.get("type") or "Opaque"
    if kind.key == ("", "secrets") and obj.get("stringData"):
        data = obj.setdefault("data", {}) or {}
        for key, value in obj.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data
    if kind.key == NAMESPACES.key:
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
        obj["metadata"].setdefault("labels", {})
        obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = obj["metadata"]["name"]


def _check_preconditions(kind: Kind, current: Object, preconditions: dict[str, Any]) -> None:
    meta = current["metadata"]
    for field in ("uid", "resourceVersion"):
        wanted = preconditions.get(field)
        if wanted and wanted != meta.get(field):
            raise Conflict(
                f"Precondition failed on {kind.describe(meta['name'])}: {field} in the "
                f"precondition ({wanted}) does not match the object's ({meta.get(field)})",
                details=_details(kind, meta["name"]),
            )
