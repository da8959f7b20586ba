"""Kubernetes Secrets that deliver credentials to a service's pods.

The database step reads a Secret to learn the credentials it already issued
(so an unchanged service gets no new password) and writes one only when its
content differs. Every Secret it writes is labelled as the platform's and
owned by the TawaService, so Kubernetes' garbage collector removes it too
should the finalizer ever be bypassed.

:class:`SecretStore` is the boundary the step depends on; :class:`KubeSecrets`
implements it with the synchronous ``kubernetes`` client in worker threads.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tawa.errors import UpstreamError
from tawa.resource import API_VERSION, KIND

MANAGED_BY = {"app.kubernetes.io/managed-by": "tawa"}


class SecretStoreError(UpstreamError):
    code = "secret_store_failed"


@dataclass(frozen=True, slots=True)
class Owner:
    """The TawaService a Secret belongs to."""

    name: str
    uid: str


@dataclass(slots=True)
class StoredSecret:
    data: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)


class SecretStore(Protocol):
    async def read(self, namespace: str, name: str) -> StoredSecret | None: ...

    async def write(
        self, namespace: str, name: str, secret: StoredSecret, *, owner: Owner
    ) -> None: ...

    async def delete(self, namespace: str, name: str) -> None: ...


class KubeSecrets:
    """:class:`SecretStore` on the Kubernetes API."""

    def __init__(self, api: client.ApiClient) -> None:
        self._core = client.CoreV1Api(api)

    async def read(self, namespace: str, name: str) -> StoredSecret | None:
        found = await self._call(
            self._core.read_namespaced_secret, name, namespace, missing_ok=True
        )
        if found is None:
            return None
        data = {k: base64.b64decode(v).decode() for k, v in (found.data or {}).items()}
        return StoredSecret(data=data, annotations=dict(found.metadata.annotations or {}))

    async def write(self, namespace: str, name: str, secret: StoredSecret, *, owner: Owner) -> None:
        body = _manifest(namespace, name, secret, owner)
        try:
            await self._call(self._core.replace_namespaced_secret, name, namespace, body)
        except SecretStoreError as error:
            if not _is_missing(error):
                raise
            await self._call(self._core.create_namespaced_secret, namespace, body)

    async def delete(self, namespace: str, name: str) -> None:
        await self._call(self._core.delete_namespaced_secret, name, namespace, missing_ok=True)

    async def _call(self, method: Any, *args: Any, missing_ok: bool = False) -> Any:
        try:
            return await asyncio.to_thread(method, *args)
        except ApiException as error:
            if missing_ok and error.status == 404:
                return None
            # The body of a Secret call may hold credentials: keep only the status.
            raise SecretStoreError(
                f"Kubernetes answered {error.status} {error.reason} to {method.__name__}.",
                details={"status": error.status},
            ) from None


def _is_missing(error: SecretStoreError) -> bool:
    return error.details.get("status") == 404


def _manifest(namespace: str, name: str, secret: StoredSecret, owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**MANAGED_BY, "tawa.insureco.io/service": owner.name},
            "annotations": secret.annotations,
            "ownerReferences": [
                {"apiVersion": API_VERSION, "kind": KIND, "name": owner.name, "uid": owner.uid}
            ],
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in secret.data.items()},
    }
