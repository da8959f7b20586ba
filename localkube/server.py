"""The local Kubernetes API: kmock's scaffold with our own request routing.

kmock provides the HTTP server (``kmock.Server``), the registry of served
types with its bundled builtin list, and the ``Status`` error shape. We
route requests ourselves because kmock's request parsing decodes every body
as text (protobuf bodies then fail) and reads ``/api/v1/namespaces/NAME`` as
a namespace with no resource; the object semantics live in
:mod:`tawa.localkube.store`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import attrs
import kmock
from aiohttp import web

from tawa.localkube import controllers, discovery, handlers, protobuf, tables
from tawa.localkube.errors import ApiError, MethodNotAllowed, NotFound
from tawa.localkube.objects import Kind, Object
from tawa.localkube.selectors import Filter
from tawa.localkube.store import Event, Store

logger = logging.getLogger("tawa.localkube")

_MAX_BODY = 3 * 1024 * 1024  # a real API server's request limit
_HEALTH = ("/healthz", "/readyz", "/livez")
_OPENAPI_V2 = protobuf.openapi_v2_document("tawa localkube")
_OPENAPI_V2_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_FIXED_PATHS = frozenset({*_HEALTH, "/version", "/api", "/apis", "/openapi/v2", "/openapi/v3", "/"})
_BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class Target:
    """What a resource URL points at."""

    group: str
    version: str | None = None
    plural: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


def parse_path(path: str) -> Target | None:
    """``/api/v1/...`` or ``/apis/GROUP/VERSION/...`` into its parts."""
    parts = [part for part in path.split("/") if part]
    version: str | None
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 2 and parts[0] == "apis":
        group, version, rest = parts[1], (parts[2] if len(parts) > 2 else None), parts[3:]
    else:
        return None
    namespace = None
    namespace_subresource = len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES
    if len(rest) >= 3 and rest[0] == "namespaces" and not namespace_subresource:
        namespace, rest = rest[1], rest[2:]
    return Target(
        group=group,
        version=version,
        plural=rest[0] if rest else None,
        namespace=namespace,
        name=rest[1] if len(rest) > 1 else None,
        subresource="/".join(rest[2:]) or None,
    )


@attrs.define(kw_only=True)
class LocalKube(kmock.KubernetesScaffold):
    """The request handler; serve it with ``kmock.Server(handler, ...)``."""

    store: Store = attrs.field(factory=Store)
    rollouts_complete: bool = True  # play the deployment controller (see controllers.py)
    _kinds: dict[tuple[str, str, str], Kind | None] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.resources.load_bundled()
        self.store.listeners.append(self._follow_crds)
        if self.rollouts_complete:
            controllers.Rollouts(self.store)
        for namespace in _BUILTIN_NAMESPACES:
            self.store.ensure_namespace(namespace)

    def restore(self, state: dict[str, Any]) -> None:
        """Load saved objects and serve the custom types among them again."""
        self.store.load(state)
        crds = discovery.resolve(self.resources, *discovery.CRDS_V1)
        assert crds is not None  # bundled
        for crd in self.store.select(crds, Filter()):
            discovery.register_crd(self.resources, crd)

    async def __call__(self, raw: web.BaseRequest) -> web.StreamResponse:
        started = time.monotonic()
        try:
            response = await self._route(raw)
        except ApiError as error:
            response = _json(error.to_status(), status=error.status)
        except Exception:
            logger.exception("Request %s %s failed.", raw.method, raw.path)
            status = ApiError("internal error of the local API; see its log").to_status()
            response = _json(status, status=500)
        logger.debug(
            "%s %s -> %s in %.1f ms",
            raw.method,
            raw.path_qs,
            response.status,
            (time.monotonic() - started) * 1000,
        )
        return response

    async def _route(self, raw: web.BaseRequest) -> web.StreamResponse:
        path = raw.path.rstrip("/") or "/"
        if path in _FIXED_PATHS:
            if raw.method != "GET":
                raise MethodNotAllowed(f"{raw.method} is not supported on {path}")
            return self._fixed_routes(raw)[path]()
        target = parse_path(path)
        if target is None:
            raise NotFound(f"the server could not find the requested resource ({path})")
        if target.plural is None:
            return self._discovery(raw, target)
        kind = self._resolve(target.group, target.version or "", target.plural)
        if kind is None or (target.namespace is not None and not kind.namespaced):
            raise NotFound(f"the server could not find the requested resource ({path})")
        return await self._resource(raw, kind, target)

    def _resolve(self, group: str, version: str, plural: str) -> Kind | None:
        """Resolved types are cached until a CRD changes the served set."""
        key = (group, version, plural)
        if key not in self._kinds:
            self._kinds[key] = discovery.resolve(self.resources, group, version, plural)
        return self._kinds[key]

    def _fixed_routes(self, raw: web.BaseRequest) -> Mapping[str, Callable[[], web.Response]]:
        def ok() -> web.Response:
            return web.Response(text="ok")

        return {
            **dict.fromkeys(_HEALTH, ok),
            "/version": lambda: _json(discovery.SERVER_VERSION),
            "/api": lambda: self._root_discovery(raw, core=True),
            "/apis": lambda: self._root_discovery(raw, core=False),
            "/openapi/v2": lambda: web.Response(body=_OPENAPI_V2, content_type=_OPENAPI_V2_TYPE),
            "/openapi/v3": lambda: _json(discovery.openapi_v3_index()),
            "/": lambda: _json({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/version"]}),
        }

    def _root_discovery(self, raw: web.BaseRequest, *, core: bool) -> web.Response:
        if discovery.wants_aggregated(raw.headers.get("Accept", "")):
            document = discovery.aggregated(self.resources, core=core)
            return _json(document, content_type=discovery.AGGREGATED_TYPE)
        if core:
            return _json(discovery.api_versions(raw.host))
        return _json(discovery.api_group_list(self.resources))

    def _discovery(self, raw: web.BaseRequest, target: Target) -> web.Response:
        if raw.method != "GET":
            raise MethodNotAllowed(f"{raw.method} is not supported on discovery documents")
        if target.version is None:
            document = discovery.api_group(self.resources, target.group)
        else:
            document = discovery.api_resource_list(self.resources, target.group, target.version)
        if document is None:
            raise NotFound(f"the server could not find the requested resource ({raw.path})")
        return _json(document)

    async def _resource(
        self, raw: web.BaseRequest, kind: Kind, target: Target
    ) -> web.StreamResponse:
        # Helm release Secrets can exceed aiohttp's default 1 MiB body limit.
        raw._client_max_size = _MAX_BODY
        content_type = raw.content_type
        if raw.method == "PATCH":
            handlers.check_patch_type(content_type)
        call = handlers.Call(
            kind=kind,
            namespace=target.namespace,
            name=target.name,
            subresource=target.subresource,
            query=dict(raw.query),
            content_type=content_type,
            body=handlers.parse_body(await raw.read(), content_type),
            table_columns=self._table_columns(raw, kind),
        )
        if raw.method == "GET" and call.query.get("watch") in ("true", "1"):
            return await handlers.watch_objects(self.store, call, raw)
        return self._write_or_read(raw.method, call)

    def _table_columns(self, raw: web.BaseRequest, kind: Kind) -> list[dict[str, Any]] | None:
        if raw.method != "GET" or not tables.wanted(raw.headers.get("Accept", "")):
            return None
        return tables.printer_columns(self.store, kind)

    def _write_or_read(self, method: str, call: handlers.Call) -> web.Response:
        verbs: dict[str, Callable[[Store, handlers.Call], Object]] = {
            "GET": handlers.get_object if call.name else handlers.list_objects,
            "POST": handlers.create_object,
            "PUT": handlers.replace_object,
            "DELETE": handlers.delete_object,
        }
        if method == "PATCH" and call.name is not None:
            obj, created = handlers.patch_object(self.store, call)
        elif method in verbs and (call.name is not None or method in ("GET", "POST", "DELETE")):
            obj, created = verbs[method](self.store, call), method == "POST"
        else:
            raise MethodNotAllowed(f"{method} is not supported on this URL")
        if created and call.kind.key == discovery.CRDS and not call.dry_run:
            obj = self._establish(call.kind, obj)
        return _json(obj, status=201 if created else 200)

    def _establish(self, kind: Kind, crd: Object) -> Object:
        """Report a new CRD as established, as the real API server soon does."""
        status = {"status": discovery.crd_status(crd)}
        return self.store.update(kind, crd, status, subresource="status")

    def _follow_crds(self, event: Event) -> None:
        if event.key != discovery.CRDS:
            return
        self._kinds.clear()
        if event.type == "DELETED":
            discovery.unregister_crd(self.resources, event.obj)
            spec = event.obj.get("spec", {})
            self.store.delete_all(
                (spec.get("group", ""), spec.get("names", {}).get("plural", "")), force=True
            )
        else:
            discovery.register_crd(self.resources, event.obj)


def _json(value: Any, *, status: int = 200, content_type: str = "application/json") -> web.Response:
    headers = {"Content-Type": content_type}
    return web.Response(body=json.dumps(value), status=status, headers=headers)
