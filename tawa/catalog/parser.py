"""Checking Components and turning each into the fields of a TawaService spec.

The flow for one Component: Backstage-level checks (kind, name, owner, type),
annotations, then the Tawa fields of ``spec``, pruned of unknown keys (a
warning each), validated by the same pydantic models the CRD is generated
from, and finally the rules that span several fields. Every problem lands in
one list with its position; nothing here stops at the first one.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from tawa.catalog import rules
from tawa.catalog._yaml import Document
from tawa.catalog.problems import FieldPath, Problem, Severity, field_name, show
from tawa.resource import (
    NAME_MAX_LENGTH,
    DependencyTransport,
    Framework,
    TawaServiceSpec,
)

SPEC_EXCLUDED = frozenset({"environment", "hostname", "image"})
"""Spec fields a catalog does not set: the command line and render do."""


def _annotation(name: str) -> tuple[str, ...]:
    return ("metadata", "annotations", rules.ANNOTATION_PREFIX + name)


# Where each spec field comes from in the catalog, when not from ``spec`` itself.
SPEC_SOURCES: dict[str, tuple[str, ...]] = {
    "name": ("metadata", "name"),
    "description": ("metadata", "description"),
    "tags": ("metadata", "tags"),
    "owner": ("spec", "owner"),
    **{
        spec_field: _annotation(annotation)
        for annotation, spec_field in rules.ANNOTATIONS.items()
        if spec_field is not None
    },
}


@dataclass(slots=True)
class Component:
    """A Component that passed preflight: the spec fields a catalog sets."""

    name: str
    source: str
    document: int
    """0-based index of its YAML document in the file."""
    spec: dict[str, Any]
    """``TawaServiceSpec`` fields by their camelCase names, minus ``SPEC_EXCLUDED``."""
    framework_is_assumed: bool
    line: int = 1
    column: int = 1
    """Where the Component's ``metadata`` is, for messages about it as a whole."""


class Checker:
    """Collects the problems of one document of one file."""

    def __init__(self, document: Document, *, source: str, problems: list[Problem]) -> None:
        self.document = document
        self.source = source
        self.problems = problems
        self.failed = False

    def error(self, path: FieldPath, message: str, *, code: str, key: bool = False) -> None:
        self.failed = True
        self._add(Severity.ERROR, path, message, code=code, key=key)

    def warn(self, path: FieldPath, message: str, *, code: str, key: bool = False) -> None:
        self._add(Severity.WARNING, path, message, code=code, key=key)

    def _add(
        self, severity: Severity, path: FieldPath, message: str, *, code: str, key: bool
    ) -> None:
        mark = self.document.mark(path, key=key)
        self.problems.append(
            Problem(severity, self.source, mark.line, mark.column, field_name(path), message, code)
        )


def check_component(checker: Checker) -> Component | None:
    """The Component of ``checker.document``, or ``None`` if it has errors."""
    data: dict[str, Any] = checker.document.data
    _unknown_keys(checker, data, (), rules.BACKSTAGE_TOP)
    api_version = data.get("apiVersion")
    if not (isinstance(api_version, str) and api_version.startswith("backstage.io/")):
        checker.warn(
            ("apiVersion",),
            f"expected 'backstage.io/v1alpha1', not {show(api_version)}",
            code="catalog-api-version",
        )

    metadata = _mapping(checker, data, ("metadata",), required=True)
    spec = _mapping(checker, data, ("spec",), required=True)
    if metadata is None or spec is None:
        return None
    _unknown_keys(checker, metadata, ("metadata",), rules.BACKSTAGE_METADATA)
    _unknown_keys(
        checker, spec, ("spec",), rules.BACKSTAGE_SPEC + rules.TAWA_SPEC + rules.UNSUPPORTED_SPEC
    )
    annotations = _annotations(checker, metadata)
    version = _catalog_version(checker, annotations)
    draft, framework_is_assumed = _draft(checker, metadata, spec, annotations, version=version)

    validated = _validate(checker, draft)
    if validated is None:
        return None
    _check_spans(checker, validated, annotations, version=version)
    if checker.failed:
        return None
    fields = validated.model_dump(mode="json", by_alias=True, exclude_none=True)
    return Component(
        name=validated.name,
        source=checker.source,
        document=checker.document.index,
        spec={k: v for k, v in fields.items() if k not in SPEC_EXCLUDED},
        framework_is_assumed=framework_is_assumed,
        line=checker.document.mark(("metadata",)).line,
        column=checker.document.mark(("metadata",)).column,
    )


# --- Backstage level --------------------------------------------------------------------------


def _mapping(
    checker: Checker, parent: dict[str, Any], path: FieldPath, *, required: bool = False
) -> dict[str, Any] | None:
    value = parent.get(str(path[-1]))
    if isinstance(value, dict):
        return value
    if value is None and not required:
        return None
    if value is None:
        checker.error(path, "is missing; a Component needs it", code="catalog-missing")
    else:
        checker.error(path, f"must be a mapping, not {show(value)}", code="catalog-type")
    return None


def _unknown_keys(
    checker: Checker, data: dict[str, Any], path: FieldPath, known: tuple[str, ...]
) -> None:
    for key in data:
        if key not in known:
            checker.warn(
                (*path, key),
                f"unknown field, ignored{rules.did_you_mean(key, known)}",
                code="catalog-unknown-field",
                key=True,
            )


def _annotations(checker: Checker, metadata: dict[str, Any]) -> dict[str, Any]:
    """The ``insureco.io/`` annotations, by name without the prefix."""
    raw = metadata.get("annotations")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        checker.error(
            ("metadata", "annotations"), f"must be a mapping, not {show(raw)}", code="catalog-type"
        )
        return {}
    found: dict[str, Any] = {}
    for key, value in raw.items():
        if not key.startswith(rules.ANNOTATION_PREFIX):
            continue
        name = key.removeprefix(rules.ANNOTATION_PREFIX)
        path = ("metadata", "annotations", key)
        if name not in rules.ANNOTATIONS:
            known = [rules.ANNOTATION_PREFIX + k for k in rules.ANNOTATIONS]
            hint = rules.did_you_mean(key, known)
            checker.warn(
                path, f"unknown Tawa annotation, ignored{hint}", code="catalog-unknown-field"
            )
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            checker.error(path, f"must be a string, not {show(value)}", code="catalog-type")
            continue
        if isinstance(value, int):
            checker.warn(
                path, f'annotation values are strings; write "{value}"', code="catalog-unquoted"
            )
        found[name] = str(value)
    return found


def _catalog_version(checker: Checker, annotations: dict[str, Any]) -> tuple[int, int, int]:
    """The rules version to check by; unversioned catalogs get the oldest rules."""
    text = annotations.get("catalog-version")
    if text is None:
        return rules.OLDEST_VERSION
    version = rules.parse_version(text)
    path = _annotation("catalog-version")
    if version is None:
        checker.error(
            path, f'must be a version like "0.5.0", not {show(text)}', code="catalog-version"
        )
        return rules.OLDEST_VERSION
    if version > rules.LATEST_VERSION:
        latest = ".".join(map(str, rules.LATEST_VERSION))
        checker.warn(
            path,
            f"{text} is newer than this tawa knows; checking by {latest} rules",
            code="catalog-version-newer",
        )
        return rules.LATEST_VERSION
    return version


def _owner(checker: Checker, spec: dict[str, Any]) -> Any:
    """The owner org slug; Backstage entity refs give their name part."""
    raw = spec.get("owner")
    if not isinstance(raw, str) or (":" not in raw and "/" not in raw):
        return raw
    slug = raw.split(":", 1)[-1].rsplit("/", 1)[-1]
    checker.warn(
        ("spec", "owner"),
        f"{show(raw)} is a Backstage entity reference; Tawa bills the org {show(slug)}."
        " Set spec.owner to your org slug",
        code="catalog-owner-reference",
    )
    return slug


def _check_backstage_type(checker: Checker, spec: dict[str, Any]) -> None:
    kind = spec.get("type")
    if kind is None:
        checker.warn(("spec", "type"), "is missing (Backstage needs it)", code="catalog-missing")
    elif isinstance(kind, str) and "library" in kind.lower():
        checker.error(
            ("spec", "type"),
            f"{show(kind)} is a library, which has nothing to run;"
            " Tawa deploys services, websites and workers",
            code="catalog-not-deployable",
        )
    if spec.get("lifecycle") is None:
        checker.warn(
            ("spec", "lifecycle"), "is missing (Backstage needs it)", code="catalog-missing"
        )


# --- Building the spec ------------------------------------------------------------------------


def _draft(
    checker: Checker,
    metadata: dict[str, Any],
    spec: dict[str, Any],
    annotations: dict[str, Any],
    *,
    version: tuple[int, int, int],
) -> tuple[dict[str, Any], bool]:
    """The spec fields as the catalog gives them, before validation."""
    _check_backstage_type(checker, spec)
    draft: dict[str, Any] = {"environment": "sandbox"}  # a placeholder until render
    for field, path in SPEC_SOURCES.items():
        if path[1] == "annotations":
            value = annotations.get(path[2].removeprefix(rules.ANNOTATION_PREFIX))
        else:
            value = (metadata if path[0] == "metadata" else spec).get(path[1])
        if value is not None:
            draft[field] = value
    draft["owner"] = _owner(checker, spec)
    if "name" not in draft:
        checker.error(("metadata", "name"), "is required", code="catalog-missing")
    if draft["owner"] is None:
        checker.error(
            ("spec", "owner"),
            "is required: the slug of the org that owns and pays for the service",
            code="catalog-missing",
        )
    if not isinstance(draft.get("tags", []), list):
        checker.warn(("metadata", "tags"), "must be a list; ignored", code="catalog-type")
        del draft["tags"]

    for key in rules.TAWA_SPEC:
        if key in spec and spec[key] is not None:
            draft[key] = _pruned(checker, spec[key], TawaServiceSpec, key, ("spec", key))
    _gate_by_version(checker, draft, version)
    if isinstance(draft.get("config"), dict):
        draft["config"] = {k: _config_text(v) for k, v in draft["config"].items()}
    return draft, _apply_framework_defaults(checker, draft, annotations)


def _config_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


def _gate_by_version(checker: Checker, draft: dict[str, Any], version: tuple[int, ...]) -> None:
    """Fields a catalog version does not have yet are reported and dropped."""
    for key, needed in (("dependencies", rules.V0_4), ("tests", rules.V0_5)):
        if key in draft and version < needed:
            wanted = ".".join(map(str, needed))
            checker.warn(
                ("spec", key),
                f"needs insureco.io/catalog-version {wanted!r} or later; ignored",
                code=f"catalog-{key}-needs-version",
                key=True,
            )
            del draft[key]


def _apply_framework_defaults(
    checker: Checker, draft: dict[str, Any], annotations: dict[str, Any]
) -> bool:
    """Fill port and health path from the framework; say if the framework was assumed."""
    assumed = "framework" not in draft
    if assumed:
        draft["framework"] = rules.ASSUMED_FRAMEWORK.value
        checker.warn(
            _annotation("framework"),
            "is not set: Tawa can deploy this only from a prebuilt image (--image),"
            " as a web service on port 3000 with health check /health",
            code="catalog-framework-missing",
        )
    try:
        defaults = rules.FRAMEWORK_DEFAULTS[Framework(draft["framework"])]
    except (ValueError, TypeError):
        return assumed  # validation reports the bad framework
    draft.setdefault("port", defaults.port)
    if defaults.health_path is not None:
        draft.setdefault("healthPath", defaults.health_path)
    return assumed


def _pruned(
    checker: Checker, value: Any, model: type[BaseModel], field: str, path: FieldPath
) -> Any:
    """``value`` without the keys its model does not know, a warning for each."""
    inner = _model_of(model.model_fields[_attribute(model, field)].annotation)
    if inner is None:
        return value
    if isinstance(value, list):
        return [_pruned_model(checker, item, inner, (*path, i)) for i, item in enumerate(value)]
    return _pruned_model(checker, value, inner, path)


def _pruned_model(checker: Checker, value: Any, model: type[BaseModel], path: FieldPath) -> Any:
    if not isinstance(value, dict):
        return value
    known = {info.alias or name: name for name, info in model.model_fields.items()}
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in known:
            checker.warn(
                (*path, key),
                f"unknown field, ignored{rules.did_you_mean(key, known)}",
                code="catalog-unknown-field",
                key=True,
            )
            continue
        out[key] = _pruned(checker, item, model, key, (*path, key))
    return out


def _attribute(model: type[BaseModel], alias: str) -> str:
    for name, info in model.model_fields.items():
        if (info.alias or name) == alias:
            return name
    raise KeyError(alias)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``list[M]``, ``M | None`` or ``M``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _validate(checker: Checker, draft: dict[str, Any]) -> TawaServiceSpec | None:
    try:
        validated = TawaServiceSpec.model_validate(draft)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            head = str(loc[0]) if loc else ""
            path = SPEC_SOURCES.get(head, ("spec", head)) + loc[1:]
            checker.error(path, _message(error, loc), code="catalog-invalid-value")
        return None
    return None if checker.failed else validated


_NAME_FIELDS = {"name", "service", "owner"}


def _message(error: Any, loc: tuple[Any, ...]) -> str:
    kind: str = error["type"]
    value = error.get("input")
    field = next((part for part in reversed(loc) if isinstance(part, str)), "")
    shown = "the value" if loc[:1] == ("config",) else show(value)  # config may hold secrets
    if kind == "missing":
        return "is required"
    if kind == "enum":
        expected: str = error["ctx"]["expected"]
        options = re.findall(r"'([^']*)'", expected)
        hint = rules.did_you_mean(str(value), options) if isinstance(value, str) else ""
        return f"must be one of {', '.join(options)}, not {shown}{hint}"
    if kind in {"string_pattern_mismatch", "string_too_long"} and field in _NAME_FIELDS:
        return _name_message(value, field)
    if kind == "string_pattern_mismatch":
        return f"{_PATTERN_HINTS.get(field, 'has the wrong form')}, not {shown}"
    text: str = error["msg"]
    return f"{text[0].lower()}{text[1:]}, not {shown}"


_PATTERN_HINTS = {
    "path": "must be a path starting with '/' and without spaces",
    "healthPath": "must be a path starting with '/' and without spaces",
    "catalogVersion": 'must be a version like "0.5.0"',
    "database": "may hold only letters, digits, '-' and '_'",
}


def _name_message(value: Any, field: str) -> str:
    what = "an org slug" if field == "owner" else "a DNS label (it becomes the hostname)"
    rule = "lowercase letters, digits and dashes, starting and ending with a letter or digit"
    limit = f", at most {NAME_MAX_LENGTH} characters" if field != "owner" else ""
    suggestion = re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-")[:NAME_MAX_LENGTH]
    hint = f", e.g. {suggestion!r}" if suggestion and suggestion != value else ""
    return f"{show(value)} is not {what}: use {rule}{limit}{hint}"


# --- Rules across fields ----------------------------------------------------------------------


def _check_spans(
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
    path = _annotation("health-endpoint")
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


def components_in(documents: list[Document]) -> Iterator[Document]:
    for document in documents:
        if isinstance(document.data, dict) and document.data.get("kind") == "Component":
            yield document
