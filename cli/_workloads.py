"""What ``tawa logs`` and ``tawa rollback`` read and write in the cluster.

Pods and their logs, build Jobs, the Helm history of a service (read from
Helm's release Secrets, so no ``helm`` binary is needed) and the change of
a TawaService's image. API failures become :class:`ClusterError` sentences.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tawa.catalog import CatalogError, read_catalog
from tawa.cli import _output
from tawa.cli._cluster import FIELD_MANAGER, ClusterError
from tawa.resource import API_VERSION, GROUP, KIND, PLURAL, VERSION, Environment, namespace_for

if TYPE_CHECKING:
    from kubernetes.client.exceptions import ApiException

BUILD_SELECTOR = "tawa.insureco.io/service={name},app.kubernetes.io/component=build"
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Revision:
    """One revision of a service's Helm release."""

    number: int
    status: str
    image: str


def image_of(values: dict[str, Any]) -> str:
    """The image reference in the service chart's values."""
    image = values.get("image") or {}
    repository = str(image.get("repository") or "")
    if image.get("digest"):
        return f"{repository}@{image['digest']}"
    return f"{repository}:{image.get('tag') or 'latest'}"


def decode_release(encoded: str) -> dict[str, Any]:
    """Helm's release record from a release Secret's ``data.release``."""
    raw = base64.b64decode(base64.b64decode(encoded))
    if raw[:2] == _GZIP_MAGIC:
        raw = gzip.decompress(raw)
    release: dict[str, Any] = json.loads(raw)
    return release


class Workloads:
    def __init__(self, kubeconfig: str | None = None) -> None:
        # Imported here: the client costs half a second, and most commands never need it.
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        try:
            api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        except (ConfigException, FileNotFoundError, TypeError) as exc:
            raise ClusterError(
                f"No usable kubeconfig ({exc}); set KUBECONFIG or run `tawa dev cluster`."
            ) from None
        self._api = api
        self._core = client.CoreV1Api(api)
        self._batch = client.BatchV1Api(api)
        self._objects = client.CustomObjectsApi(api)

    def pods(self, namespace: str, *, selector: str) -> list[dict[str, Any]]:
        found = self._call(self._core.list_namespaced_pod, namespace, label_selector=selector)
        return sorted(found.get("items") or [], key=_created)

    def log(self, pod: str, namespace: str, *, container: str | None, tail: int | None) -> str:
        """The container's log; ``""`` when it has none (yet)."""
        from kubernetes.client.exceptions import ApiException

        try:
            text = self._core.read_namespaced_pod_log(
                pod, namespace, container=container, tail_lines=tail
            )
        except ApiException as exc:
            if exc.status in (400, 404):
                return ""
            raise _wrapped(exc) from exc
        return str(text or "")

    def follow(self, pod: str, namespace: str, *, container: str | None) -> Iterator[str]:
        """The container's log lines as they come, until the container ends."""
        from kubernetes.client.exceptions import ApiException

        try:
            stream = self._core.read_namespaced_pod_log(
                pod, namespace, container=container, follow=True, _preload_content=False
            )
        except ApiException as exc:
            raise _wrapped(exc) from exc
        for line in stream.stream():  # type: ignore[attr-defined]
            yield line.decode(errors="replace")

    def build_jobs(self, name: str, namespace: str) -> list[dict[str, Any]]:
        selector = BUILD_SELECTOR.format(name=name)
        found = self._call(self._batch.list_namespaced_job, namespace, label_selector=selector)
        return sorted(found.get("items") or [], key=_created)

    def history(self, name: str, namespace: str) -> list[Revision]:
        """The release's revisions, oldest first."""
        selector = f"owner=helm,name={name}"
        found = self._call(self._core.list_namespaced_secret, namespace, label_selector=selector)
        revisions = []
        for secret in found.get("items") or []:
            encoded = (secret.get("data") or {}).get("release")
            if not encoded:
                continue
            release = decode_release(encoded)
            revisions.append(
                Revision(
                    number=int(release.get("version") or 0),
                    status=str((release.get("info") or {}).get("status") or "unknown"),
                    image=image_of(release.get("config") or {}),
                )
            )
        return sorted(revisions, key=lambda r: r.number)

    def deploy_image(self, found: dict[str, Any], image: str) -> None:
        """Make the TawaService run ``image`` (instead of its source or image)."""
        meta = found["metadata"]
        spec = {k: v for k, v in found["spec"].items() if k != "source"}
        manifest = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "spec": {**spec, "image": image},
        }
        where = (GROUP, VERSION, meta["namespace"], PLURAL, meta["name"])
        # Applied as `tawa deploy` applies, so the next deploy takes the image
        # back; a source owned by another manager is then removed explicitly.
        try:
            applied = self._call(
                self._objects.patch_namespaced_custom_object, *where, manifest,
                field_manager=FIELD_MANAGER, force=True,
                _content_type="application/apply-patch+yaml",
            )  # fmt: skip
        except ClusterError as exc:
            if exc.details.get("status") != 422:
                raise
            applied = {"spec": {"source": True}}
        if "source" in applied.get("spec", {}):
            operations = [
                {"op": "add", "path": "/spec/image", "value": image},
                {"op": "remove", "path": "/spec/source"},
            ]
            self._call(
                self._objects.patch_namespaced_custom_object, *where, operations,
                field_manager=FIELD_MANAGER, _content_type="application/json-patch+json",
            )  # fmt: skip

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            found = method(*args, **kwargs)
        except ApiException as exc:
            raise _wrapped(exc) from exc
        except HTTPError as exc:
            raise ClusterError(
                f"Cannot reach the Kubernetes API ({type(exc).__name__}); is the cluster up?"
            ) from exc
        result: dict[str, Any] = self._api.sanitize_for_serialization(found)
        return result


def _created(item: dict[str, Any]) -> str:
    return str(item.get("metadata", {}).get("creationTimestamp") or "")


def _wrapped(exc: ApiException) -> ClusterError:
    return ClusterError(
        f"The Kubernetes API refused the request: {exc.status} {exc.reason}",
        details={"status": exc.status},
    )


def target(
    name: str | None, *, env: Environment | None, prod: bool, namespace: str | None
) -> tuple[str, str]:
    """The service name and namespace a command is about; exits on a usage error."""
    errors = _output.stderr()
    if prod and env not in (None, Environment.PROD):
        errors.print(f"--prod and --env {env} disagree; give one of them.")
        raise typer.Exit(_output.EXIT_USAGE)
    environment = Environment.PROD if prod else env or Environment.SANDBOX
    if name is None:
        try:
            name = read_catalog(Path(".")).component().name
        except CatalogError:
            errors.print("Give a service NAME, or run this next to its catalog-info.yaml.")
            raise typer.Exit(_output.EXIT_USAGE) from None
    return name, namespace or namespace_for(name, environment)
