"""``tawa db``: the service's database credentials.

``tawa db rotate`` asks the operator for new credentials by stamping the
TawaService with an annotation (``tawa.insureco.io/rotate-credentials``, or
``tawa.insureco.io/rotate-{type}`` with ``--type``). The operator's databases
step sees the new stamp, sets a new password on the service's user and
rewrites its Secret; it never needs a redeploy to do so. Pods read the Secret
when they start, so they use the new password from the next rollout on, and
the old one stops working at once: run a deploy (or a restart) right after.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tawa.cli._registry import EnvOption, ServiceOption, fail, service_name
from tawa.resource import GROUP, PLURAL, VERSION, Environment, namespace_for

if TYPE_CHECKING:
    from kubernetes.client.exceptions import ApiException

db_app = typer.Typer(help="The service's database credentials.")
_MERGE_PATCH = "application/merge-patch+json"


class CredentialType(StrEnum):
    MONGODB = "mongodb"
    REDIS = "redis"


def rotation_annotation(kind: CredentialType | None) -> str:
    return f"{GROUP}/rotate-{kind.value}" if kind else f"{GROUP}/rotate-credentials"


@db_app.command("rotate")
def rotate(
    type_: Annotated[
        CredentialType | None,
        typer.Option("--type", "-t", help="Only this kind; default every database."),
    ] = None,
    env: EnvOption = Environment.SANDBOX,
    service: ServiceOption = None,
    namespace: Annotated[str | None, typer.Option(help="Namespace; default {name}-{env}.")] = None,
) -> None:
    """Ask the operator for new database passwords; pods use them from the next rollout."""
    name = service_name(service)
    namespace = namespace or namespace_for(name, env)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    key = rotation_annotation(type_)
    _annotate(name, namespace, {key: stamp})
    kind = type_.value if type_ else "all database"
    typer.echo(
        f"Requested new {kind} credentials for {namespace}/{name} ({key}={stamp}). "
        "The operator rewrites the Secrets on its next reconcile; redeploy or restart the "
        "service then, as the old passwords stop working."
    )


def _annotate(name: str, namespace: str, annotations: dict[str, str]) -> None:
    # Imported here: the client costs half a second, and most commands never need it.
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    from urllib3.exceptions import HTTPError

    try:
        # Read KUBECONFIG now: the client library reads it once, at import.
        kubeconfig = os.environ.get("KUBECONFIG") or None
        api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    except (ConfigException, FileNotFoundError, TypeError) as exc:
        fail(f"No usable kubeconfig ({exc}); set KUBECONFIG.")
    patch = {"metadata": {"annotations": annotations}}
    objects = client.CustomObjectsApi(api)
    try:
        objects.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, patch, _content_type=_MERGE_PATCH
        )
    except ApiException as exc:
        if exc.status == 404:
            fail(f"No TawaService {name} in namespace {namespace}; deploy it with `tawa deploy`.")
        fail(f"The Kubernetes API refused the annotation: {exc.status} {_reason(exc)}")
    except HTTPError as exc:
        fail(f"Cannot reach the Kubernetes API ({type(exc).__name__}); is the cluster up?")
    finally:
        api.close()


def _reason(exc: ApiException) -> Any:
    try:
        return json.loads(exc.body or "{}").get("message") or exc.reason
    except (ValueError, AttributeError):
        return exc.reason


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
