"""The CLI's Kubernetes calls: namespace, server-side apply, read a TawaService.

Uses the current kubeconfig (``KUBECONFIG`` or ``~/.kube/config``), as kubectl
does. Every API failure is wrapped once as :class:`ClusterError` with a
sentence; the commands print it and exit.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tawa.errors import TawaError
from tawa.resource import GROUP, KIND, PLURAL, VERSION

if TYPE_CHECKING:
    from kubernetes.client.exceptions import ApiException

FIELD_MANAGER = "tawa"
_APPLY_PATCH = "application/apply-patch+yaml"


class ClusterError(TawaError):
    code = "cluster_error"
    status = 502


class Cluster:
    def __init__(self, kubeconfig: str | None = None) -> None:
        # Imported here: the client costs half a second, and most commands never need it.
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        try:
            # The client reads KUBECONFIG once, at import; read it now instead.
            path = kubeconfig or os.environ.get("KUBECONFIG") or None
            api = config.new_client_from_config(config_file=path)  # type: ignore[no-untyped-call]
        except (ConfigException, FileNotFoundError, TypeError) as exc:
            raise ClusterError(
                f"No usable kubeconfig ({exc}); set KUBECONFIG or run `tawa dev cluster`."
            ) from None
        api.user_agent = "tawa-cli"
        self._core = client.CoreV1Api(api)
        self._objects = client.CustomObjectsApi(api)

    def ensure_namespace(self, name: str) -> bool:
        """Create the namespace if it is missing; ``True`` when it was created."""
        try:
            self._call(self._core.read_namespace, name)
            return False
        except ClusterError as exc:
            if exc.details.get("status") != 404:
                raise
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        try:
            self._call(self._core.create_namespace, body)
        except ClusterError as exc:
            if exc.details.get("status") != 409:  # created meanwhile by someone else
                raise
        return True

    def apply_service(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply of a TawaService with field manager ``tawa``."""
        meta = manifest["metadata"]
        result: dict[str, Any] | None = self._call(
            self._objects.patch_namespaced_custom_object,
            GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], manifest,
            field_manager=FIELD_MANAGER, force=True, _content_type=_APPLY_PATCH,
        )  # fmt: skip
        if result is None:
            # An apply that creates answers 201, which the generated client
            # does not deserialize; read back what was stored.
            result = self.read_service(meta["name"], meta["namespace"])
        if result is None:
            raise ClusterError(
                f"TawaService {meta['namespace']}/{meta['name']} vanished after apply"
            )
        return result

    def read_service(self, name: str, namespace: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._call(
                self._objects.get_namespaced_custom_object,
                GROUP, VERSION, namespace, PLURAL, name,
            )  # fmt: skip
        except ClusterError as exc:
            if exc.details.get("status") == 404:
                return None
            raise
        return found

    @staticmethod
    def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return method(*args, **kwargs)
        except ApiException as exc:
            raise ClusterError(
                f"The Kubernetes API refused the request: {exc.status} {exc.reason}"
                f"{_api_message(exc)}",
                details={"status": exc.status},
            ) from exc
        except HTTPError as exc:
            raise ClusterError(
                f"Cannot reach the Kubernetes API ({type(exc).__name__}); is the cluster up?"
            ) from exc


def _api_message(exc: ApiException) -> str:
    # The API server's Status body says which field it disliked.
    import json

    try:
        message = json.loads(exc.body or "{}").get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {message}" if message else ""


__all__ = ["FIELD_MANAGER", "KIND", "Cluster", "ClusterError"]
