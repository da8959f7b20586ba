"""Validating the drafted spec with the resource models, in the catalog's terms.

Unknown keys are pruned first (a warning each, naming the closest known key);
then pydantic checks every field at once, and each of its errors is moved back
to the catalog field it came from, in a sentence that shows the value.
"""

from __future__ import annotations

import re
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from tawa.catalog import rules
from tawa.catalog._checker import Checker, annotation_path
from tawa.catalog.problems import FieldPath, show
from tawa.resource import NAME_MAX_LENGTH, TawaServiceSpec

# Where each spec field comes from in the catalog, when not from ``spec`` itself.
SPEC_SOURCES: dict[str, tuple[str, ...]] = {
    "name": ("metadata", "name"),
    "description": ("metadata", "description"),
    "tags": ("metadata", "tags"),
    "owner": ("spec", "owner"),
    **{
        spec_field: annotation_path(annotation)
        for annotation, spec_field in rules.ANNOTATIONS.items()
        if spec_field is not None
    },
}

_BUILD_SOURCES: dict[str, tuple[str, ...]] = {
    field: annotation_path(annotation) for annotation, field in rules.BUILD_ANNOTATIONS.items()
}


def pruned(
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
        out[key] = pruned(checker, item, model, key, (*path, key))
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


def validate(checker: Checker, draft: dict[str, Any]) -> TawaServiceSpec | None:
    try:
        validated = TawaServiceSpec.model_validate(draft)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            head = str(loc[0]) if loc else ""
            if loc[-1:] == ("[key]",):  # a map key that is wrong: point at the key
                loc = loc[:-1]
            path = SPEC_SOURCES.get(head, ("spec", head)) + loc[1:]
            if head == "build" and len(loc) > 1:
                path = _BUILD_SOURCES.get(str(loc[1]), path)
            checker.error(path, _message(error, loc), code="catalog-invalid-value")
        return None
    return validated


_NAME_FIELDS = {"name", "service", "owner"}


def _message(error: Any, loc: tuple[Any, ...]) -> str:
    kind: str = error["type"]
    value = error.get("input")
    field = next((part for part in reversed(loc) if isinstance(part, str)), "")
    if kind == "string_pattern_mismatch" and loc[:1] == ("config",) and len(loc) == 2:
        return f"{show(value)} is not an environment variable name: {_ENV_NAME_HINT}"
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
    if kind == "string_pattern_mismatch" and loc[:1] == ("routes",) and field == "path":
        return f"{_ROUTE_PATH_HINT}, not {shown}"
    if kind == "string_pattern_mismatch":
        return f"{_PATTERN_HINTS.get(field, 'has the wrong form')}, not {shown}"
    text: str = error["msg"]
    return f"{text[0].lower()}{text[1:]}, not {shown}"


_ENV_NAME_HINT = "use letters, digits and '_', not starting with a digit, at most 128"
_ROUTE_PATH_HINT = (
    "must be a path starting with '/', in lowercase a-z, 0-9 and '-._~'"
    " (no '//', '.' or '..' segment, no '%' or '*', no segment ending in '.')"
)
_PATTERN_HINTS = {
    "path": "must be a path starting with '/' and without spaces",
    "healthPath": "must be a path starting with '/' and without spaces",
    "catalogVersion": 'must be a version like "0.5.0"',
    "database": "may hold only letters, digits, '-' and '_'",
    "nodeVersion": 'must be an image tag of the node base image, like "20" or "22-alpine"',
    "buildCommand": "must be one line",
    "startCommand": "must be one line",
    "outputDir": "must be a relative path inside the repository, without '..'",
}


def _name_message(value: Any, field: str) -> str:
    what = "an org slug" if field == "owner" else "a DNS label (it becomes the hostname)"
    rule = "lowercase letters, digits and dashes, starting and ending with a letter or digit"
    limit = f", at most {NAME_MAX_LENGTH} characters" if field != "owner" else ""
    suggestion = re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-")[:NAME_MAX_LENGTH]
    hint = f", e.g. {suggestion!r}" if suggestion and suggestion != value else ""
    return f"{show(value)} is not {what}: use {rule}{limit}{hint}"
