"""The registry's wire models: camelCase JSON, validated at the edge.

Validators delegate to :mod:`tawa.registry.paths`, whose messages name the
value; FastAPI reports them with the field's location (``routes.0.path``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from tawa.registry import paths
from tawa.resource import NAME_PATTERN
from tawa.tiers import DEFAULT_TIER, Tier

MAX_METADATA_BYTES = 32 * 1024
MAX_ROUTES = 200

Auth = Literal["required", "optional", "none"]
Slug = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=63)]


class WireModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Route(WireModel):
    path: str
    methods: list[str] | None = Field(default=None, validate_default=True)
    """Leave out for every method; stored as the full list."""
    auth: Auth = "required"
    gas: int = Field(default=0, ge=0, le=1_000_000, strict=True)
    """Whole tokens; a boolean is refused, not read as 0 or 1."""

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return paths.route_path(value)

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str] | None) -> list[str]:
        return paths.methods(value)


class ServiceIn(WireModel):
    """The body of ``PUT /v1/services/{environment}/{name}``."""

    name: str | None = None
    """Optional; must equal the name in the path when given."""
    environment: str | None = None
    owner: Slug
    tier: Tier = DEFAULT_TIER
    upstream: str
    health_path: str | None = None
    routes: list[Route] = Field(default_factory=list, max_length=MAX_ROUTES)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("upstream")
    @classmethod
    def _upstream(cls, value: str) -> str:
        return paths.upstream(value)

    @field_validator("health_path")
    @classmethod
    def _health(cls, value: str | None) -> str | None:
        return None if value is None else paths.health_path(value)

    @model_validator(mode="after")
    def _routes_are_distinct(self) -> ServiceIn:
        seen: dict[tuple[str, str], int] = {}
        for index, route in enumerate(self.routes):
            for method in route.methods or ():
                first = seen.setdefault((route.path, method), index)
                if first != index:
                    raise ValueError(
                        f"routes {first} and {index} both claim {method} {route.path}; "
                        "merge them into one route"
                    )
        return self

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes of JSON")
        _check_keys(value, "metadata")
        return value


def _check_keys(node: Any, where: str) -> None:
    """Refuse keys MongoDB would read as operators or paths."""
    if isinstance(node, dict):
        for key, child in node.items():
            if not isinstance(key, str) or key.startswith("$") or "." in key or "\x00" in key:
                raise ValueError(f"{where} key {key!r} must not start with '$' or contain '.'")
            _check_keys(child, f"{where}.{key}")
    elif isinstance(node, list):
        for child in node:
            _check_keys(child, where)


class _Out(BaseModel):
    """Answers: camelCase, and keys an older record may carry are dropped."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class RouteOut(_Out):
    path: str
    methods: list[str]
    auth: Auth
    gas: int


class ServiceOut(_Out):
    name: str
    environment: str
    owner: str
    tier: str
    upstream: str
    health_path: str | None = None
    routes: list[RouteOut]
    metadata: dict[str, Any]
    version: int
    """The registry version of this record's last change."""
    created_at: datetime
    updated_at: datetime
    changed: bool | None = None
    """On upsert: whether anything differed (``false`` keeps the version)."""


class ServiceList(_Out):
    services: list[ServiceOut]


class RouteRow(RouteOut):
    service: str
    environment: str
    owner: str
    upstream: str


class RouteTable(_Out):
    version: int
    """Read before the rows: the rows are at least this new."""
    routes: list[RouteRow]


class RouteChange(_Out):
    version: int
    op: Literal["upsert", "delete"]
    service: str
    environment: str
    owner: str | None = None
    upstream: str | None = None
    routes: list[RouteOut] | None = None
    """After an upsert, the service's full route list."""


class RouteChanges(_Out):
    version: int
    changes: list[RouteChange]


class Deleted(_Out):
    name: str
    environment: str
    version: int
