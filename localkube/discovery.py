"""API discovery, custom resource registration and the OpenAPI documents.

The registry of served types is kmock's ``ResourcesArray`` (loaded from its
bundled builtin list); creating a CustomResourceDefinition adds its served
versions there and deleting it removes them. The discovery documents are
built here rather than by kmock's scaffold because that one reports the core
group as ``groupVersion: "/v1"`` (Go clients then cannot map core kinds) and
picks a group's preferred version in set order.
"""

from __future__ import annotations

import re
from typing import Any

import kmock

from tawa.localkube.objects import Kind, Object

CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")
CRDS_V1 = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
_CRUD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-tawa-localkube",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes' version order: GA before beta before alpha, newer first."""
    match = _VERSION.match(version)
    if match is None:
        return (3, 0, 0)
    major, level, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[level]
    return (rank, -int(major), -int(minor or 0))


def resolve(resources: kmock.ResourcesArray, group: str, version: str, plural: str) -> Kind | None:
    key = kmock.resource(group, version, plural)
    if key not in resources:
        return None
    info = resources[key]
    return Kind(
        group=group,
        version=version,
        plural=plural,
        kind=info.kind or plural.capitalize(),
        namespaced=bool(info.namespaced),
        has_status="status" in info.subresources,
        has_scale="scale" in info.subresources,
    )


def _keys(resources: kmock.ResourcesArray) -> list[kmock.resource]:
    return [kmock.resource(key) for key in resources]


def _versions_by_group(resources: kmock.ResourcesArray) -> dict[str, list[str]]:
    groups: dict[str, set[str]] = {}
    for resource in _keys(resources):
        if resource.group and resource.version:
            groups.setdefault(resource.group, set()).add(resource.version)
    return {group: sorted(versions, key=version_priority) for group, versions in groups.items()}


def _group_document(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{version}", "version": version} for version in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def api_group_list(resources: kmock.ResourcesArray) -> dict[str, Any]:
    groups = _versions_by_group(resources)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_document(group, groups[group]) for group in sorted(groups)],
    }


def api_group(resources: kmock.ResourcesArray, group: str) -> dict[str, Any] | None:
    versions = _versions_by_group(resources).get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_document(group, versions)}


def api_resource_list(
    resources: kmock.ResourcesArray, group: str, version: str
) -> dict[str, Any] | None:
    entries = []
    for resource in sorted(_keys(resources), key=lambda r: r.plural or ""):
        if resource.group != group or resource.version != version or not resource.plural:
            continue
        info = resources[resource]
        entry = {
            "name": resource.plural,
            "singularName": info.singular or "",
            "namespaced": bool(info.namespaced),
            "kind": info.kind,
            "verbs": sorted(info.verbs),
        }
        if info.shortnames:
            entry["shortNames"] = sorted(info.shortnames)
        if info.categories:
            entry["categories"] = sorted(info.categories)
        entries.append(entry)
        base = {"singularName": "", "namespaced": entry["namespaced"], "kind": info.kind}
        for sub in sorted(info.subresources):
            verbs = ["get", "patch", "update"] if sub in ("status", "scale") else ["get", "create"]
            entries.append({**base, "name": f"{resource.plural}/{sub}", "verbs": verbs})
    if not entries:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }


AGGREGATED_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str) -> bool:
    """Go clients ask for the whole discovery in one document (v2)."""
    return any(
        "as=APIGroupDiscoveryList" in part and "v=v2;" in f"{part};"
        for part in accept.replace(" ", "").split(",")
    )


def aggregated(resources: kmock.ResourcesArray, *, core: bool) -> dict[str, Any]:
    """``/api`` (core) or ``/apis`` (the rest) as an ``APIGroupDiscoveryList``."""
    groups = {"": ["v1"]} if core else _versions_by_group(resources)
    items = [
        {
            "metadata": {"name": group},
            "versions": [
                {
                    "version": version,
                    "resources": _discovered(resources, group, version),
                    "freshness": "Current",
                }
                for version in versions
            ],
        }
        for group, versions in sorted(groups.items())
    ]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def _discovered(resources: kmock.ResourcesArray, group: str, version: str) -> list[dict[str, Any]]:
    found = []
    for resource in sorted(_keys(resources), key=lambda r: r.plural or ""):
        if resource.group != group or resource.version != version or not resource.plural:
            continue
        info = resources[resource]
        kind = {"group": group, "version": version, "kind": info.kind}
        subresources = [
            {"subresource": sub, "responseKind": kind, "verbs": ["get", "patch", "update"]}
            for sub in sorted(info.subresources)
        ]
        found.append(
            {
                "resource": resource.plural,
                "responseKind": kind,
                "scope": "Namespaced" if info.namespaced else "Cluster",
                "singularResource": info.singular or "",
                "verbs": sorted(info.verbs),
                "shortNames": sorted(info.shortnames),
                "categories": sorted(info.categories),
                "subresources": subresources,
            }
        )
    return found


def register_crd(resources: kmock.ResourcesArray, crd: Object) -> None:
    """Serve the versions of a CustomResourceDefinition (re-registering on update)."""
    unregister_crd(resources, crd)
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        subresources = set((version.get("subresources") or {}).keys())
        resources[kmock.resource(spec["group"], version["name"], names["plural"])] = (
            kmock.ResourceInfo(
                kind=names.get("kind"),
                singular=names.get("singular") or names.get("kind", "").lower(),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                verbs=_CRUD_VERBS,
                shortnames=names.get("shortNames", []),
                categories=names.get("categories", []),
                subresources=subresources,
            )
        )


def unregister_crd(resources: kmock.ResourcesArray, crd: Object) -> None:
    spec = crd.get("spec", {})
    plural = spec.get("names", {}).get("plural")
    for resource in _keys(resources):
        if resource.group == spec.get("group") and resource.plural == plural:
            del resources[resource]


def crd_status(crd: Object) -> dict[str, Any]:
    """The status a real API server reports once a CRD is usable."""
    names = crd.get("spec", {}).get("names", {})
    conditions = [
        {
            "type": kind,
            "status": "True",
            "reason": reason,
            "message": message,
            "lastTransitionTime": crd["metadata"].get("creationTimestamp"),
        }
        for kind, reason, message in (
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        )
    ]
    versions = [v["name"] for v in crd.get("spec", {}).get("versions", []) if v.get("storage")]
    return {"acceptedNames": names, "conditions": conditions, "storedVersions": versions}


def openapi_v3_index() -> dict[str, Any]:
    """No per-group documents: clients fall back to the v2 document, find no
    schema for any kind, and skip client-side validation."""
    return {"paths": {}}
