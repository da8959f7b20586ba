"""The objects of the local API and their history of changes.

One in-memory store for every resource, keyed by ``(group, plural)`` so that
all served versions of a type share their objects. It gives clients what
kmock's emulator leaves out: ``uid``, a global monotonic ``resourceVersion``,
optimistic concurrency (409 on a stale ``resourceVersion``), and deletion
behind finalizers; the per-object rules live in :mod:`tawa.localkube.objects`.

Every change is appended to an event log that watches read from (see
:mod:`tawa.localkube.watch`). Stored objects are never mutated in place: each
write makes a new dict, so events and answers can share them safely.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tawa.localkube.errors import AlreadyExists, BadRequest, Conflict, NotFound
from tawa.localkube.objects import (
    NAMESPACES,
    Kind,
    Object,
    ObjectKey,
    TypeKey,
    check_preconditions,
    details,
    merge_update,
    name_for_create,
    namespace_for_create,
    normalise,
    now,
    object_key,
    present,
)
from tawa.localkube.selectors import Filter


@dataclass(frozen=True)
class Event:
    revision: int
    key: TypeKey
    type: str  # ADDED, MODIFIED or DELETED
    obj: Object
    old: Object | None = None


class Store:
    """All objects, the global revision counter and the event log."""

    def __init__(self, *, history: int = 2048) -> None:
        self.revision = 0
        self.closed = False
        self.listeners: list[Callable[[Event], None]] = []
        self._objects: dict[TypeKey, dict[ObjectKey, Object]] = defaultdict(dict)
        self._events: list[Event] = []
        self._history = history
        self._evicted = 0  # the revision of the newest event dropped from the log
        self._signal = asyncio.Event()
        # owner uid -> the objects that name it in their ownerReferences
        self._dependents: dict[str, set[tuple[TypeKey, ObjectKey]]] = defaultdict(set)

    # Reading.

    def get(self, kind: Kind, namespace: str | None, name: str) -> Object:
        obj = self._objects[kind.key].get((namespace or "", name))
        if obj is None:
            raise NotFound(f"{kind.describe(name)} not found", details=details(kind, name))
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
        name = name_for_create(kind, meta)
        namespace = namespace_for_create(kind, namespace, meta)
        if self.exists(kind, namespace, name):
            raise AlreadyExists(
                f"{kind.describe(name)} already exists", details=details(kind, name)
            )
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
            meta.pop(field, None)
        meta.update(name=name, uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        if namespace is not None:
            meta["namespace"] = namespace
        obj.update(apiVersion=kind.api_version, kind=kind.kind)
        if kind.has_status:  # the status subresource writes it, never a create
            obj.pop("status", None)
        normalise(kind, obj)
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
                details=details(kind, current["metadata"]["name"]),
            )
        new = merge_update(kind, current, proposed, subresource=subresource)
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
        check_preconditions(kind, current, preconditions or {})
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

    # Saving and restoring (``--state-dir``).

    def dump(self) -> dict[str, Any]:
        objects = [
            {"group": group, "plural": plural, "object": obj}
            for (group, plural), by_key in self._objects.items()
            for obj in by_key.values()
        ]
        return {"revision": self.revision, "objects": objects}

    def load(self, state: dict[str, Any]) -> None:
        """Replace everything by a dump; watches from before it get a 410."""
        self._objects.clear()
        self._dependents.clear()
        for entry in state["objects"]:
            obj, key = entry["object"], (entry["group"], entry["plural"])
            self._objects[key][object_key(obj)] = obj
            self._index_owners(key, None, obj)
        self.revision = self._evicted = int(state["revision"])
        self._events.clear()

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
        self._objects[key][object_key(new)] = new
        self._index_owners(key, old, new)
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
        self._objects[key].pop(object_key(obj), None)
        self._index_owners(key, obj, None)
        self.revision += 1
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self.revision)
        self._record(Event(self.revision, key, "DELETED", gone))
        if key == NAMESPACES.key:
            for other in self.types():
                if other != NAMESPACES.key:
                    self.delete_all(other, namespace=obj["metadata"]["name"], force=False)
        self._collect_dependents(obj["metadata"].get("uid"))
        return gone

    def _index_owners(self, key: TypeKey, old: Object | None, new: Object | None) -> None:
        if old is not None:
            for uid in _owner_uids(old):
                self._dependents[uid].discard((key, object_key(old)))
                if not self._dependents[uid]:
                    del self._dependents[uid]
        if new is not None:
            for uid in _owner_uids(new):
                self._dependents[uid].add((key, object_key(new)))

    def _collect_dependents(self, owner_uid: str | None) -> None:
        """Background garbage collection: objects whose last owner is gone go too."""
        for key, name in sorted(self._dependents.pop(owner_uid or "", set())):
            obj = self._objects[key].get(name)
            if obj is not None:
                references = obj["metadata"].get("ownerReferences") or []
                remaining = [ref for ref in references if ref.get("uid") != owner_uid]
                if remaining:
                    new = copy.deepcopy(obj)
                    new["metadata"]["ownerReferences"] = remaining
                    self._commit(key, obj, new)
                else:
                    self._delete_object(key, obj)

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


def _owner_uids(obj: Object) -> list[str]:
    return [ref.get("uid", "") for ref in obj["metadata"].get("ownerReferences") or []]
