"""The Kubernetes calls of the build step: Jobs, their ConfigMaps, pods and logs.

The synchronous ``kubernetes`` client runs in worker threads; every API
failure is wrapped once as :class:`~tawa.operator.kube.KubeError`. Absent
objects are ``None``, not errors.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tawa.operator.kube import KubeError, api_client


@functools.cache
def connect(kubeconfig: str | None = None) -> BuildKube:
    return BuildKube(api_client(kubeconfig))


class BuildKube:
    def __init__(self, api: client.ApiClient) -> None:
        self._api = api
        self._batch = client.BatchV1Api(api)
        self._core = client.CoreV1Api(api)

    async def job(self, name: str, namespace: str) -> dict[str, Any] | None:
        return await self._read(self._batch.read_namespaced_job, name, namespace, what="job")

    async def create_job(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create the Job; when it exists already (a racing reconcile), read it."""
        meta = manifest["metadata"]
        try:
            return await self._call(
                self._batch.create_namespaced_job, meta["namespace"], manifest,
                what=f"creating job {meta['namespace']}/{meta['name']}",
            )  # fmt: skip
        except KubeError as exc:
            if exc.details.get("status") != 409:
                raise
        found = await self.job(meta["name"], meta["namespace"])
        if found is None:
            raise KubeError(f"job {meta['namespace']}/{meta['name']} vanished while created")
        return found

    async def ensure_configmap(self, manifest: dict[str, Any]) -> None:
        meta = manifest["metadata"]
        found = await self._read(
            self._core.read_namespaced_config_map, meta["name"], meta["namespace"], what="cm"
        )
        if found is not None:
            return
        try:
            await self._call(
                self._core.create_namespaced_config_map, meta["namespace"], manifest,
                what=f"creating configmap {meta['namespace']}/{meta['name']}",
            )  # fmt: skip
        except KubeError as exc:
            if exc.details.get("status") != 409:
                raise

    async def jobs(self, namespace: str, *, selector: str) -> list[dict[str, Any]]:
        found = await self._call(
            self._batch.list_namespaced_job, namespace, label_selector=selector,
            what=f"listing jobs in {namespace}",
        )  # fmt: skip
        items: list[dict[str, Any]] = found.get("items") or []
        return items

    async def delete_job(self, name: str, namespace: str) -> None:
        try:
            await self._call(
                self._batch.delete_namespaced_job, name, namespace,
                propagation_policy="Background", what=f"deleting job {namespace}/{name}",
            )  # fmt: skip
        except KubeError as exc:
            if exc.details.get("status") != 404:
                raise

    async def pods(self, namespace: str, *, selector: str) -> list[dict[str, Any]]:
        found = await self._call(
            self._core.list_namespaced_pod, namespace, label_selector=selector,
            what=f"listing pods in {namespace}",
        )  # fmt: skip
        items: list[dict[str, Any]] = found.get("items") or []
        return items

    async def log_tail(self, pod: str, namespace: str, *, container: str, lines: int) -> str:
        """The last ``lines`` of a container's log; ``""`` when there is none."""
        try:
            text = await asyncio.to_thread(
                self._core.read_namespaced_pod_log, pod, namespace,
                container=container, tail_lines=lines,
            )  # fmt: skip
        except ApiException:
            return ""  # no log (yet, or any more) is not a failure of the reconcile
        return str(text or "")

    async def secret(self, name: str, namespace: str) -> dict[str, Any] | None:
        return await self._read(self._core.read_namespaced_secret, name, namespace, what="secret")

    async def write_secret(self, manifest: dict[str, Any]) -> None:
        """Create or replace a Secret with ``manifest``."""
        meta = manifest["metadata"]
        where = f"{meta['namespace']}/{meta['name']}"
        try:
            await self._call(
                self._core.create_namespaced_secret, meta["namespace"], manifest,
                what=f"creating secret {where}",
            )  # fmt: skip
        except KubeError as exc:
            if exc.details.get("status") != 409:
                raise
            await self._call(
                self._core.replace_namespaced_secret, meta["name"], meta["namespace"], manifest,
                what=f"replacing secret {where}",
            )  # fmt: skip

    async def _read(
        self, method: Any, name: str, namespace: str, *, what: str
    ) -> dict[str, Any] | None:
        try:
            return await self._call(method, name, namespace, what=f"reading {what} {name}")
        except KubeError as exc:
            if exc.details.get("status") == 404:
                return None
            raise

    async def _call(self, method: Any, *args: Any, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            found = await asyncio.to_thread(method, *args, **kwargs)
        except ApiException as exc:
            raise KubeError(
                f"Kubernetes API error while {what}: {exc.status} {exc.reason}",
                details={"status": exc.status},
            ) from exc
        result: dict[str, Any] = self._api.sanitize_for_serialization(found)  # type: ignore[no-untyped-call]
        return result
