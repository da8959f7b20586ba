"""Turning a checked Component into the TawaService for one environment."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from tawa.catalog.parser import Component
from tawa.catalog.problems import CatalogError, Problem, Severity, show
from tawa.resource import (
    DEFAULT_BASE_DOMAIN,
    Environment,
    ObjectMeta,
    TawaService,
    TawaServiceSpec,
    hostname_for,
    namespace_for,
)


def render_service(
    component: Component,
    *,
    environment: Environment | str,
    image: str | None = None,
    source: dict[str, str] | None = None,
    namespace: str | None = None,
    base_domain: str = DEFAULT_BASE_DOMAIN,
) -> TawaService:
    """The TawaService that deploys ``component`` to ``environment``.

    ``image`` (a prebuilt image) or ``source`` (``spec.source``: the commit the
    operator builds) says what runs; one of them, not both.

    A Component without a framework annotation can only be deployed from a
    prebuilt image, so rendering it without ``image`` is refused.
    """
    env = Environment(environment)
    if component.framework_is_assumed and not image:
        raise CatalogError(
            [
                Problem(
                    Severity.ERROR,
                    component.source,
                    component.line,
                    component.column,
                    "metadata",
                    "insureco.io/framework is not set, so there is nothing to build an image"
                    " from: pass --image IMAGE or set the framework annotation",
                    "catalog-framework-missing",
                )
            ]
        )
    fields: dict[str, Any] = {
        **component.spec,
        "environment": env.value,
        "hostname": hostname_for(component.name, env, base_domain),
    }
    if image:
        fields["image"] = image
    if source:
        fields["source"] = dict(source)
    # The catalog was checked already: what can still be wrong here came from
    # the command line (--image, --namespace) or the base domain setting.
    try:
        spec = TawaServiceSpec.model_validate(fields)
        metadata = ObjectMeta(
            name=component.name,
            namespace=namespace or namespace_for(component.name, env),
            labels={
                "app.kubernetes.io/name": component.name,
                "app.kubernetes.io/managed-by": "tawa",
                "tawa.insureco.io/environment": env.value,
                "tawa.insureco.io/owner": spec.owner,
            },
        )
    except ValidationError as exc:
        raise CatalogError([_option_problem(component, error) for error in exc.errors()]) from None
    return TawaService(metadata=metadata, spec=spec)


_OPTION_HINTS = {
    "image": "--image must be an image reference like ghcr.io/acme/api:1.2.0",
    "namespace": "--namespace must be a DNS label",
    "hostname": "the hostname made from TAWA_BASE_DOMAIN is not valid",
}


def _option_problem(component: Component, error: Any) -> Problem:
    field = ".".join(str(part) for part in error["loc"])
    hint = _OPTION_HINTS.get(field, f"{field}: {error['msg']}")
    return Problem(
        Severity.ERROR,
        component.source,
        component.line,
        component.column,
        field,
        f"{hint}, not {show(error.get('input'))}",
        "catalog-invalid-option",
    )
