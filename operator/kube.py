"""The few Kubernetes API calls the operator makes outside kopf.

kopf watches TawaServices and patches them when a handler returns; this module
covers what it does not: writing the status while a reconcile is still
running (so ``tawa deploy`` can follow each step live) and reading the
Deployment a release created. The synchronous ``kubernetes`` client runs in
worker threads; its errors are wrapped once, here.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from tawa.errors import UpstreamError
from tawa.resource import GROUP, PLURAL, VERSION

_MERGE_PATCH = "application/merge-patch+json"


class KubeError(UpstreamError):
    code = "kubernetes_api_failed"


def api_client(kubeconfig: str | None = None) -> client.ApiClient:
    """A client for the current kubeconfig (or the in-cluster service account)."""
    try:
        made: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig or os.environ.get("KUBECONFIG") or None
        )
    except (ConfigException, FileNotFoundError, TypeError):
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        made = client.ApiClient()
    made.user_agent = "tawa-operator"
    return made


@functools.cache
def connect(kubeconfig: str | None = None) -> Kube:
    """The process's one :class:`Kube` for ``kubeconfig``, shared by handlers and steps."""
    return Kube(api_client(kubeconfig))


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self._objects = client.CustomObjectsApi(api)
        self._apps = client.AppsV1Api(api)
        self.writes = 0
        """Status patches sent, for tests and the benchmark."""

    async def patch_status(self, name: str, namespace: str, status: dict[str, Any]) -> None:
        """Merge ``status`` into the TawaService's status; a vanished object is not an error."""
        self.writes += 1
        try:
            await asyncio.to_thread(
                self._objects.patch_namespaced_custom_object_status,
                GROUP, VERSION, namespace, PLURAL, name, {"status": status},
                _content_type=_MERGE_PATCH,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status == 404:
                return
            raise _wrapped(exc, f"writing the status of {namespace}/{name}") from exc

    async def services_named(self, name: str) -> list[dict[str, Any]]:
        """Every TawaService called ``name``, in any namespace."""
        try:
            found: Any = await asyncio.to_thread(
                self._objects.list_cluster_custom_object,
                GROUP, VERSION, PLURAL, field_selector=f"metadata.name={name}",
            )  # fmt: skip
        except ApiException as exc:
            raise _wrapped(exc, f"listing TawaServices named {name}") from exc
        items: list[dict[str, Any]] = found.get("items") or []
        return [item for item in items if item.get("metadata", {}).get("name") == name]

    async def deployment(self, name: str, namespace: str) -> dict[str, Any] | None:
        """The Deployment as a plain dict, or ``None`` when it does not exist."""
        try:
            found = await asyncio.to_thread(self._apps.read_namespaced_deployment, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _wrapped(exc, f"reading deployment {namespace}/{name}") from exc
        result: dict[str, Any] = self._apps.api_client.sanitize_for_serialization(found)
        return result


def _wrapped(exc: ApiException, doing: str) -> KubeError:
    return KubeError(
        f"Kubernetes API error while {doing}: {exc.status} {exc.reason}",
        details={"status": exc.status},
    )
