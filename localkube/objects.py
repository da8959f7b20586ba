"""What an object is to the API server, apart from where it is stored.

The resolved type of a request (:class:`Kind`), and the server-side rules for
a single object: the metadata the server assigns and owns, ``generation``
bumped on spec changes only, the status subresource owning ``status``,
preconditions, and a few defaults (Secret ``stringData``, Active namespaces).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tawa.localkube.errors import BadRequest, Conflict, Invalid

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
    has_scale: bool = False

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


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def present(kind: Kind, obj: Object) -> Object:
    """The object as seen through ``kind``'s version (types share objects)."""
    if obj.get("apiVersion") == kind.api_version:
        return obj
    return {**obj, "apiVersion": kind.api_version}


def object_key(obj: Object) -> ObjectKey:
    return (obj["metadata"].get("namespace") or "", obj["metadata"]["name"])


def details(kind: Kind, name: str) -> dict[str, Any]:
    return {"name": name, "group": kind.group, "kind": kind.plural}


def name_for_create(kind: Kind, meta: dict[str, Any]) -> str:
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


def namespace_for_create(kind: Kind, namespace: str | None, meta: dict[str, Any]) -> str | None:
    if not kind.namespaced:
        meta.pop("namespace", None)
        return None
    declared = meta.get("namespace")
    if namespace and declared and declared != namespace:
        raise BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    return namespace or declared or "default"


def merge_update(
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
    normalise(kind, new)
    return new


def _spec(obj: Object) -> Object:
    return {key: value for key, value in obj.items() if key not in _NOT_SPEC}


def normalise(kind: Kind, obj: Object) -> None:
    """Server-side defaults: Secret ``stringData`` folds into ``data``,
    namespaces are Active, Services get a cluster IP."""
    if kind.key == ("", "services"):
        _allocate_cluster_ip(obj)
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


def _allocate_cluster_ip(service: Object) -> None:
    """A stable address per service in 10.96.0.0/16; a load balancer gets
    the loopback address (nothing routes either)."""
    spec = service.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    if spec["type"] == "ExternalName":
        return
    if not spec.get("clusterIP"):
        meta = service["metadata"]
        digest = hashlib.sha256(f"{meta.get('namespace')}/{meta['name']}".encode()).digest()
        spec["clusterIP"] = f"10.96.{digest[0]}.{max(digest[1], 1)}"
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    if spec["type"] == "LoadBalancer":
        ingress = [{"ip": "127.0.0.1"}]
        service.setdefault("status", {}).setdefault("loadBalancer", {"ingress": ingress})


def check_preconditions(kind: Kind, current: Object, preconditions: dict[str, Any]) -> None:
    meta = current["metadata"]
    for field in ("uid", "resourceVersion"):
        wanted = preconditions.get(field)
        if wanted and wanted != meta.get(field):
            raise Conflict(
                f"Precondition failed on {kind.describe(meta['name'])}: {field} in the "
                f"precondition ({wanted}) does not match the object's ({meta.get(field)})",
                details=details(kind, meta["name"]),
            )
