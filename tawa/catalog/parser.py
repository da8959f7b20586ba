"""Checking Components and turning each into the fields of a TawaService spec.

The flow for one Component: Backstage-level checks (kind, name, owner, type),
annotations, then the Tawa fields of ``spec``, pruned of unknown keys (a
warning each), validated by the same pydantic models the CRD is generated
from, and finally the rules that span several fields. Every problem lands in
one list with its position; nothing here stops at the first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tawa.catalog import rules
from tawa.catalog._checker import Checker, annotation_path
from tawa.catalog._validation import SPEC_SOURCES, pruned, validate
from tawa.catalog.problems import FieldPath, show
from tawa.catalog.spans import check_spans
from tawa.resource import Framework, TawaServiceSpec

SPEC_EXCLUDED = frozenset({"environment", "hostname", "image"})
"""Spec fields a catalog does not set: the command line and render do."""


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


def check_component(checker: Checker) -> Component | None:
    """The Component of ``checker.document``, or ``None`` if it has errors."""
    data: dict[str, Any] = checker.document.data
    _unknown_keys(checker, data, (), rules.BACKSTAGE_TOP)
    api_version = data.get("apiVersion")
    if not (isinstance(api_version, str) and api_version.startswith("backstage.io/")):
        checker.warn(
            ("apiVersion",),
            "is missing; expected 'backstage.io/v1alpha1'"
            if api_version is None
            else f"expected 'backstage.io/v1alpha1', not {show(api_version)}",
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

    validated = validate(checker, draft)
    if validated is None:
        return None
    check_spans(checker, validated, annotations, version=version)
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
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            checker.error(path, f"must be a string, not {show(value)}", code="catalog-type")
            continue
        if not isinstance(value, str):
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
    path = annotation_path("catalog-version")
    if version is None:
        checker.error(
            path, f'must be a version like "0.5.0", not {show(text)}', code="catalog-version"
        )
        del annotations["catalog-version"]  # reported once, here
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
    build = {
        field: annotations[name]
        for name, field in rules.BUILD_ANNOTATIONS.items()
        if name in annotations
    }
    if build:
        draft["build"] = build
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

    for key in rules.UNSUPPORTED_SPEC:
        if key in spec:
            checker.warn(
                ("spec", key),
                "shared databases are declared with spec.scopes in Tawa; ignored",
                code="catalog-unsupported-field",
                key=True,
            )
    for key in rules.TAWA_SPEC:
        if key in spec and spec[key] is not None:
            draft[key] = pruned(checker, spec[key], TawaServiceSpec, key, ("spec", key))
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
            annotation_path("framework"),
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
