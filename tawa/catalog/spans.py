"""Rules that span several fields of a validated spec (reference 2.5, 2.6)."""

from __future__ import annotations

from typing import Any

from tawa.catalog import rules
from tawa.catalog._checker import Checker, annotation_path
from tawa.catalog.problems import FieldPath
from tawa.resource import DependencyTransport, Framework, TawaServiceSpec


def check_spans(
    checker: Checker,
    spec: TawaServiceSpec,
    annotations: dict[str, Any],
    *,
    version: tuple[int, ...],
) -> None:
    if spec.owner == "unknown":
        checker.error(
            ("spec", "owner"),
            "'unknown' is not an org: set the slug of the org that owns the service",
            code="catalog-owner-unknown",
        )
    _check_health(checker, spec, annotations, version=version)
    _check_routes(checker, spec)
    _check_databases(checker, spec)
    _check_dependencies(checker, spec)
    if spec.auth and spec.auth.passport and spec.auth.mode.value != "sso":
        checker.warn(
            ("spec", "auth", "passport"),
            "applies to SSO logins only; set auth.mode: sso or remove it",
            code="catalog-passport-without-sso",
        )


def _check_health(
    checker: Checker,
    spec: TawaServiceSpec,
    annotations: dict[str, Any],
    *,
    version: tuple[int, ...],
) -> None:
    path = annotation_path("health-endpoint")
    if spec.framework is Framework.WORKER:
        if "health-endpoint" in annotations:
            checker.warn(path, "a worker gets no HTTP probes; ignored", code="catalog-worker")
            spec.health_path = None
        if spec.routes:
            checker.error(
                ("spec", "routes"),
                "a worker receives no traffic: remove the routes or pick a web framework",
                code="catalog-worker-routes",
            )
    elif version >= rules.V0_2 and "health-endpoint" not in annotations:
        checker.error(
            path,
            "is required from catalog-version 0.2.0;"
            f" add it (this framework's default is {spec.health_path!r})",
            code="catalog-health-endpoint-required",
        )


def _check_routes(checker: Checker, spec: TawaServiceSpec) -> None:
    seen: dict[tuple[str, str], int] = {}
    for index, route in enumerate(spec.routes):
        for method in route.methods:
            first = seen.setdefault((route.path, method.value), index)
            if first != index:
                checker.error(
                    ("spec", "routes", index, "path"),
                    f"{method.value} {route.path} is already declared by route {first}",
                    code="catalog-route-duplicate",
                )


def _check_databases(checker: Checker, spec: TawaServiceSpec) -> None:
    seen: set[tuple[str, str | None]] = set()
    for index, database in enumerate(spec.databases):
        if database.name is not None and database.type.value != "mongodb":
            checker.warn(
                ("spec", "databases", index, "name"),
                f"only MongoDB databases take a name; {database.type.value} ignores it",
                code="catalog-database-name",
            )
        key = (database.type.value, database.name)
        if key in seen:
            checker.error(
                ("spec", "databases", index),
                f"{database.type.value} {database.name or '(default)'} is declared twice",
                code="catalog-database-duplicate",
            )
        seen.add(key)


def _check_dependencies(checker: Checker, spec: TawaServiceSpec) -> None:
    internal = {d.service for d in spec.internal_dependencies}
    for index, link in enumerate(spec.internal_dependencies):
        if link.service == spec.name:
            checker.warn(
                ("spec", "internalDependencies", index, "service"),
                "a service does not need a link to itself",
                code="catalog-self-dependency",
            )
    for index, dependency in enumerate(spec.dependencies):
        path: FieldPath = ("spec", "dependencies", index)
        if not dependency.scopes:
            checker.error(
                (*path, "scopes"),
                "must list the Bio-ID scopes you need (e.g. [relay:send]);"
                " a link without scopes belongs in internalDependencies",
                code="catalog-dependencies-empty-scopes",
            )
        if dependency.transport is DependencyTransport.GATEWAY:
            checker.warn(
                (*path, "transport"),
                "'gateway' injects no URL variable: call it through the gateway's address",
                code="catalog-dependencies-gateway-no-url",
            )
        if dependency.service in internal:
            checker.warn(
                (*path, "service"),
                f"{dependency.service!r} is also in internalDependencies; declare it once",
                code="catalog-dependency-twice",
            )
