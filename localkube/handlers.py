"""The verbs on resources: get, list, watch, create, replace, patch, delete.

Each function takes the parsed request and the store and answers a JSON
value (or streams, for watches); errors are raised as
:class:`~tawa.localkube.errors.ApiError` and rendered by the server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import yaml
from aiohttp import web

from tawa.localkube import patches, protobuf, scale, tables, watch
from tawa.localkube.errors import (
    ApiError,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    UnsupportedMediaType,
)
from tawa.localkube.objects import Kind, Object, now
from tawa.localkube.selectors import FieldSelector, Filter, LabelSelector
from tawa.localkube.store import Store

APPLY = "application/apply-patch+yaml"
_PATCHERS = {
    "application/merge-patch+json": patches.merge_patch,
    "application/strategic-merge-patch+json": patches.strategic_merge,
    "application/json-patch+json": patches.json_patch,
}
_SUBRESOURCES = (None, "status")


@dataclass(frozen=True)
class Call:
    """One request on a resource, as parsed from the URL and the body."""

    kind: Kind
    namespace: str | None
    name: str | None
    subresource: str | None
    query: Mapping[str, str]
    content_type: str
    body: Any
    table_columns: list[dict[str, Any]] | None = None  # answer kubectl's Table form

    def as_table(self, objects: list[Object], revision: int) -> Object:
        assert self.table_columns is not None
        include = self.query.get("includeObject", "Metadata")
        return tables.table(objects, self.table_columns, include=include, revision=revision)

    @property
    def dry_run(self) -> bool:
        return self.query.get("dryRun") == "All"

    @property
    def object_name(self) -> str:
        if self.name is None:
            raise MethodNotAllowed(f"this verb needs a named {self.kind.kind} URL")
        return self.name

    def require_object(self) -> Object:
        if not isinstance(self.body, dict):
            raise BadRequest("the request body must be a JSON (or YAML) object")
        return self.body


def parse_body(data: bytes, content_type: str) -> Any:
    if not data:
        return None
    if content_type == protobuf.CONTENT_TYPE:
        return protobuf.decode(data)
    if "cbor" in content_type:
        raise UnsupportedMediaType(f"{content_type} bodies are not supported; send JSON")
    try:
        return json.loads(data)
    except ValueError:
        if "yaml" not in content_type:
            raise BadRequest("the request body is not valid JSON") from None
    try:
        return yaml.safe_load(data)
    except yaml.YAMLError:
        raise BadRequest("the request body is not valid YAML") from None


def list_objects(store: Store, call: Call) -> Object:
    items = store.select(call.kind, _filter(call))
    items.sort(key=lambda obj: (obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
    if call.table_columns is not None:
        return call.as_table(items, store.revision)
    return {
        "apiVersion": call.kind.api_version,
        "kind": f"{call.kind.kind}List",
        "metadata": {"resourceVersion": str(store.revision)},
        "items": items,
    }


def get_object(store: Store, call: Call) -> Object:
    _check_subresource(call)
    obj = store.get(call.kind, call.namespace, call.object_name)
    if call.subresource == "scale":
        return scale.view(obj)
    if call.table_columns is not None:
        return call.as_table([obj], store.revision)
    return obj


def create_object(store: Store, call: Call) -> Object:
    if call.name is not None:
        raise MethodNotAllowed(f"POST is not supported on a named {call.kind.kind}")
    return store.create(call.kind, call.namespace, call.require_object(), dry_run=call.dry_run)


def replace_object(store: Store, call: Call) -> Object:
    _check_subresource(call)
    current = store.get(call.kind, call.namespace, call.object_name)
    if call.subresource == "scale":
        return _write_scale(store, call, current, call.require_object())
    return store.update(
        call.kind,
        current,
        call.require_object(),
        subresource=call.subresource,
        dry_run=call.dry_run,
    )


def patch_object(store: Store, call: Call) -> tuple[Object, bool]:
    """Patch, or create on a server-side apply of a missing object (then ``True``)."""
    _check_subresource(call)
    if call.content_type == APPLY:
        return _apply(store, call)
    patcher = _PATCHERS[check_patch_type(call.content_type)]
    current = store.get(call.kind, call.namespace, call.object_name)
    if call.subresource == "scale":
        return _write_scale(store, call, current, patcher(scale.view(current), call.body)), False
    patched = patcher(current, call.body)
    if not isinstance(patched, dict):
        raise BadRequest("the patched object is not a JSON object")
    obj = store.update(
        call.kind, current, patched, subresource=call.subresource, dry_run=call.dry_run
    )
    return obj, False


def _write_scale(store: Store, call: Call, current: Object, wanted: Object) -> Object:
    new = scale.scaled(current, wanted)
    return scale.view(store.update(call.kind, current, new, dry_run=call.dry_run))


def check_patch_type(content_type: str) -> str:
    if content_type != APPLY and content_type not in _PATCHERS:
        raise UnsupportedMediaType(
            f"the patch content type {content_type!r} is not supported; use one of "
            f"{', '.join(sorted([*_PATCHERS, APPLY]))}"
        )
    return content_type


def _apply(store: Store, call: Call) -> tuple[Object, bool]:
    applied = call.require_object()
    manager = call.query.get("fieldManager")
    if not manager:
        raise BadRequest("fieldManager is required for apply requests; e.g. ?fieldManager=tawa")
    owned = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
    owned["metadata"] = {
        k: v for k, v in (applied.get("metadata") or {}).items()
        if k not in ("name", "namespace", "resourceVersion", "managedFields")
    }  # fmt: skip
    entry = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": call.kind.api_version,
        "time": now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": patches.fields_v1(owned),
    }
    if call.subresource is not None:
        entry["subresource"] = call.subresource
    if not store.exists(call.kind, call.namespace, call.object_name):
        body = {**applied, "metadata": {**(applied.get("metadata") or {}), "name": call.name}}
        body["metadata"]["managedFields"] = [entry]
        return store.create(call.kind, call.namespace, body, dry_run=call.dry_run), True

    current = store.get(call.kind, call.namespace, call.object_name)
    entries = current["metadata"].get("managedFields") or []
    mine: Object = next((e for e in entries if _same_owner(e, entry)), {})
    previous = mine.get("fieldsV1") or {}
    if previous == entry["fieldsV1"]:
        entry["time"] = mine.get("time", entry["time"])  # an unchanged apply writes nothing
    merged = patches.server_side_apply(current, applied, previous=previous)
    others = [e for e in entries if not _same_owner(e, entry)]
    merged["metadata"]["managedFields"] = (
        [entry if e is mine else e for e in entries] if mine else [*others, entry]
    )
    obj = store.update(
        call.kind, current, merged, subresource=call.subresource, dry_run=call.dry_run
    )
    return obj, False


def _same_owner(entry: Object, other: Object) -> bool:
    return all(entry.get(k) == other.get(k) for k in ("manager", "operation", "subresource"))


def delete_object(store: Store, call: Call) -> Object:
    options = call.body if isinstance(call.body, dict) else {}
    dry_run = call.dry_run or "All" in (options.get("dryRun") or [])
    if call.name is None:
        return _delete_collection(store, call, dry_run=dry_run)
    _check_subresource(call)
    return store.delete(
        call.kind,
        call.namespace,
        call.name,
        preconditions=options.get("preconditions"),
        dry_run=dry_run,
    )


def _delete_collection(store: Store, call: Call, *, dry_run: bool) -> Object:
    listed = list_objects(store, replace(call, table_columns=None))
    for obj in listed["items"]:
        meta = obj["metadata"]
        store.delete(call.kind, meta.get("namespace"), meta["name"], dry_run=dry_run)
    return listed


async def watch_objects(store: Store, call: Call, raw: web.BaseRequest) -> web.StreamResponse:
    request = watch.WatchRequest(
        kind=call.kind,
        filter=_filter(call),
        since=call.query.get("resourceVersion"),
        timeout=_timeout(call.query.get("timeoutSeconds")),
        initial_events=call.query.get("sendInitialEvents") == "true",
        bookmarks=call.query.get("allowWatchBookmarks") == "true",
    )
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(raw)
    try:
        async for event in watch.stream(store, request):
            if call.table_columns is not None and event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                event = {**event, "object": call.as_table([event["object"]], store.revision)}
            await response.write(json.dumps(event).encode() + b"\n")
    except ApiError as error:
        await response.write(json.dumps({"type": "ERROR", "object": error.to_status()}).encode())
    except ConnectionResetError:
        return response  # the client left
    await response.write_eof()
    return response


def _filter(call: Call) -> Filter:
    return Filter(
        namespace=call.namespace,
        labels=LabelSelector.parse(call.query.get("labelSelector")),
        fields=FieldSelector.parse(call.query.get("fieldSelector")).with_name(call.name),
    )


def _timeout(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return max(float(text), 0.0)
    except ValueError:
        raise BadRequest(f"timeoutSeconds {text!r} is not a number of seconds") from None


def _check_subresource(call: Call) -> None:
    if call.subresource == "scale" and call.kind.has_scale:
        return
    if call.subresource not in _SUBRESOURCES:
        raise NotFound(f"the subresource {call.subresource!r} is not served by the local API")
