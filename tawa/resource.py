"""The ``TawaService`` custom resource: the one input the operator reads.

The spec mirrors ``catalog-info.yaml`` (reference section 2): ``tawa render``
fills it from a catalog, but ``kubectl apply`` and GitOps write the same object
by hand. The CRD in ``crds/tawaservices.yaml`` is generated from these models
(``python -m tawa.resource``), so the parser, the operator and the API server
agree on one schema.

YAML and JSON keys are camelCase; Python attributes are snake_case. Rules that
need more than one field (catalog-version gates, duplicate routes, a worker
without health path) live in :mod:`tawa.catalog`, not here: the CRD schema can
only carry what a single field says about itself.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from tawa.tiers import DEFAULT_TIER, Tier

GROUP = "tawa.insureco.io"
VERSION = "v1alpha1"
API_VERSION: Final = "tawa.insureco.io/v1alpha1"
KIND: Final = "TawaService"
PLURAL = "tawaservices"
SINGULAR = "tawaservice"
SHORT_NAME = "tsvc"
DEFAULT_BASE_DOMAIN = "tawa.insureco.io"

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
"""A DNS label: the service name is a hostname label, namespace and release prefix."""
NAME_MAX_LENGTH = 53
"""Helm's release-name limit, which also keeps ``{name}-sandbox`` under 63."""
VERSION_PATTERN = r"^\d+\.\d+\.\d+$"
PATH_PATTERN = r"^/[^\s]*$"
REVISION_PATTERN = r"^[0-9a-f]{40}$"
"""A full git commit SHA (lowercase hex): a branch or a short SHA could move."""
GIT_URL_PATTERN = r"^(?:https?://[^\s@/]+/[^\s@]+|ssh://[^\s]+|git@[A-Za-z0-9.-]+:[^\s]+)$"
"""``https://host/path``, ``ssh://...`` or ``git@host:path``; no credentials in an https URL."""
_SEGMENT = r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\.[A-Za-z0-9_-][A-Za-z0-9._-]*|\.\.[A-Za-z0-9._-]+)"
RELATIVE_PATH_PATTERN = rf"^(?:\.|{_SEGMENT}(?:/{_SEGMENT})*/?)$"
"""A path inside the repository: relative, no ``..`` segment."""
IMAGE_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_REPOSITORY = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_PATTERN = (
    rf"^(?:{_HOST}(?::[0-9]+)?/)?{_REPOSITORY}(?:/{_REPOSITORY})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})?$"
)
"""An image reference (``[host[:port]/]repo[/repo...][:tag][@digest]``), as Docker reads it."""
_ROUTE_SEGMENT = r"[a-z0-9._~-]*[a-z0-9_~-]"
ROUTE_PATH_PATTERN = rf"^/(?:{_ROUTE_SEGMENT}(?:/{_ROUTE_SEGMENT}){{0,31}}/?)?$"
"""What the registry stores and the gateway matches (see ``docs/contracts.md``):
lowercase ASCII segments of ``a-z 0-9 - . _ ~``, none empty, ``.``, ``..`` or
ending in ``.``, at most 32. A catalog with another path would deploy up to the
registration step and stop there."""
MAX_ROUTE_GAS = 1_000_000
"""The registry's ceiling for the gas of one call."""
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
"""A config key: it becomes an environment variable of the service."""
HOSTNAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ONE_LINE_PATTERN = r"^[^\r\n]*$"


class Environment(StrEnum):
    SANDBOX = "sandbox"
    UAT = "uat"
    PROD = "prod"


class Framework(StrEnum):
    EXPRESS = "express"
    NEXTJS = "nextjs"
    HONO = "hono"
    FASTIFY = "fastify"
    STATIC = "static"
    WORKER = "worker"
    FASTAPI = "fastapi"
    FLASK = "flask"
    DJANGO = "django"


class HttpMethod(StrEnum):
    GET = "GET"
    HEAD = "HEAD"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    OPTIONS = "OPTIONS"


class RouteAuth(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    NONE = "none"


class DatabaseType(StrEnum):
    MONGODB = "mongodb"
    REDIS = "redis"
    NEO4J = "neo4j"


class InternalTransport(StrEnum):
    DIRECT = "direct"
    JANUS = "janus"


class DependencyTransport(StrEnum):
    DIRECT = "direct"
    GATEWAY = "gateway"
    JANUS = "janus"


class Access(StrEnum):
    READ_ONLY = "readOnly"
    READ_WRITE = "readWrite"


class AuthMode(StrEnum):
    SSO = "sso"
    SERVICE_ONLY = "service-only"


class DeletionPolicy(StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"


class RollbackPolicy(StrEnum):
    NEVER = "never"
    ON_FAILURE = "onFailure"


class Phase(StrEnum):
    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    READY = "Ready"
    FAILED = "Failed"
    DELETING = "Deleting"


class ConditionType(StrEnum):
    GATE_CHECKED = "GateChecked"
    BUILT = "Built"
    DATABASES_READY = "DatabasesReady"
    OAUTH_READY = "OAuthReady"
    RELEASED = "Released"
    REGISTERED = "Registered"
    DNS_READY = "DNSReady"
    HEALTHY = "Healthy"
    SMOKE_TESTED = "SmokeTested"
    READY = "Ready"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class _Model(BaseModel):
    """camelCase on the wire, snake_case in Python, unknown keys refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )


ServiceName = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=NAME_MAX_LENGTH)]


class Route(_Model):
    """A path exposed through the gateway, with its auth rule and price."""

    path: str = Field(pattern=ROUTE_PATH_PATTERN, max_length=512)
    methods: list[HttpMethod] = Field(default_factory=lambda: list(HttpMethod), min_length=1)
    auth: RouteAuth = RouteAuth.REQUIRED
    gas: int = Field(default=0, ge=0, le=MAX_ROUTE_GAS, strict=True)
    """Tokens charged per successful (2xx) call."""


class Database(_Model):
    type: DatabaseType
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$", max_length=63)
    """MongoDB only: database name; default ``{service}-{environment}``."""


class InternalDependency(_Model):
    service: ServiceName
    port: int = Field(default=3000, ge=1, le=65535)
    transport: InternalTransport = InternalTransport.DIRECT


class Dependency(_Model):
    service: ServiceName
    transport: DependencyTransport = DependencyTransport.DIRECT
    scopes: list[str] = Field(default_factory=list)


class AllowedConsumer(_Model):
    service: ServiceName
    access: Access = Access.READ_ONLY


class Scope(_Model):
    """A database this service offers to other services (the owner side)."""

    resource: DatabaseType
    database: str | None = None
    allowed_consumers: list[AllowedConsumer] = Field(default_factory=list)


class Passport(_Model):
    branding: bool = False
    headless: bool = False
    scopes: list[str] = Field(default_factory=list)


class Auth(_Model):
    mode: AuthMode
    passport: Passport | None = None


class SmokeTest(_Model):
    path: str = Field(pattern=PATH_PATTERN)
    expect: int = Field(ge=100, le=599)


class Tests(_Model):
    smoke: list[SmokeTest] = Field(default_factory=list)


class Source(_Model):
    """The commit an image is built from, instead of a prebuilt ``image``."""

    git: str = Field(pattern=GIT_URL_PATTERN, max_length=2048)
    """Clone URL; credentials never go here (the cluster's Git credentials do)."""
    revision: str = Field(pattern=REVISION_PATTERN)
    """The full 40-character commit SHA."""
    context_dir: str = Field(default=".", pattern=RELATIVE_PATH_PATTERN, max_length=512)
    """The build context (and where a Dockerfile is looked for) inside the repository."""


class Build(_Model):
    """How a generated Dockerfile builds the service (``insureco.io/`` build annotations)."""

    node_version: str = Field(default="20", pattern=IMAGE_TAG_PATTERN)
    """Tag of the ``node`` base image (``insureco.io/node-version``)."""
    build_command: str | None = Field(default=None, pattern=ONE_LINE_PATTERN, max_length=1024)
    """Shell command run at build time; ``""`` for none; default the framework's."""
    start_command: str | None = Field(
        default=None, pattern=ONE_LINE_PATTERN, min_length=1, max_length=1024
    )
    """The container's command; default the framework's."""
    output_dir: str | None = Field(default=None, pattern=RELATIVE_PATH_PATTERN, max_length=512)
    """What the build produces and the runtime image keeps; default the framework's."""


class TawaServiceSpec(_Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.image) && has(self.source))",
                    "message": "set spec.image or spec.source, not both",
                }
            ]
        }
    )

    name: ServiceName
    owner: str = Field(pattern=NAME_PATTERN, max_length=63)
    """The org slug; every charge goes to its wallet."""
    environment: Environment
    framework: Framework
    catalog_version: str | None = Field(default=None, pattern=VERSION_PATTERN)
    image: str | None = Field(default=None, pattern=IMAGE_PATTERN, max_length=512)
    """A prebuilt image; the alternative to ``source``."""
    source: Source | None = None
    """A commit the operator builds the image from; the alternative to ``image``."""
    build: Build | None = None
    tier: Tier = DEFAULT_TIER
    port: int = Field(default=3000, ge=1, le=65535)
    health_path: str | None = Field(default=None, pattern=PATH_PATTERN)
    """Probe path; ``None`` for workers, which get no HTTP probes."""
    routes: list[Route] = Field(default_factory=list)
    databases: list[Database] = Field(default_factory=list)
    internal_dependencies: list[InternalDependency] = Field(default_factory=list)
    dependencies: list[Dependency] = Field(default_factory=list)
    scopes: list[Scope] = Field(default_factory=list)
    auth: Auth | None = None
    tests: Tests | None = None
    # The CRD cannot check map keys (a CEL rule over an unbounded map may exceed
    # the API server's cost budget): a bad key fails the operator's first step.
    config: dict[Annotated[str, Field(pattern=ENV_NAME_PATTERN)], str] = Field(default_factory=dict)
    """Environment variables of the service: letters, digits and underscores."""
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    rollback: RollbackPolicy = RollbackPolicy.NEVER
    replicas: int = Field(default=1, ge=0, le=100)
    hostname: str | None = Field(default=None, pattern=HOSTNAME_PATTERN, max_length=253)
    """The environment hostname, filled in by ``tawa render``."""
    description: str | None = None
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_image_origin(self) -> TawaServiceSpec:
        # Neither is allowed here: a catalog is checked before `tawa deploy`
        # adds one; the operator refuses a spec that reaches it with neither.
        if self.image is not None and self.source is not None:
            raise ValueError("set spec.image or spec.source, not both")
        return self


class Condition(_Model):
    type: ConditionType
    status: ConditionStatus = ConditionStatus.UNKNOWN
    reason: str | None = None
    """CamelCase word a program can switch on, e.g. ``WalletUnreachable``."""
    message: str | None = None
    last_transition_time: datetime | None = None
    observed_generation: int | None = None


class TawaServiceStatus(_Model):
    # The operator may add bookkeeping keys that an older model does not know.
    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)

    phase: Phase | None = None
    observed_generation: int | None = None
    url: str | None = None
    message: str | None = None
    conditions: list[Condition] = Field(default_factory=list)
    helm_revision: int | None = None
    last_good_revision: int | None = None
    """The latest Helm revision that passed health and smoke tests: the rollback target."""

    def condition(self, type_: ConditionType) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def set_condition(
        self,
        type_: ConditionType,
        status: ConditionStatus,
        *,
        reason: str | None = None,
        message: str | None = None,
        generation: int | None = None,
        now: datetime | None = None,
    ) -> Condition:
        """Record a condition; the transition time moves only when the status does."""
        current = self.condition(type_)
        moment = now or datetime.now(UTC)
        if current is None:
            current = Condition(type=type_, status=status, last_transition_time=moment)
            self.conditions.append(current)
        elif current.status != status:
            current.status = status
            current.last_transition_time = moment
        current.reason = reason
        current.message = message
        current.observed_generation = generation
        return current


class ObjectMeta(BaseModel):
    """The parts of Kubernetes metadata we read; everything else is kept as is."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: ServiceName
    namespace: str | None = Field(default=None, pattern=NAME_PATTERN, max_length=63)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int | None = None
    uid: str | None = None
    resource_version: str | None = None


class TawaService(_Model):
    api_version: Literal["tawa.insureco.io/v1alpha1"] = API_VERSION
    kind: Literal["TawaService"] = KIND
    metadata: ObjectMeta
    spec: TawaServiceSpec
    status: TawaServiceStatus | None = None

    def manifest(self) -> dict[str, Any]:
        """The object as Kubernetes takes it: camelCase keys, no null values."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def hostname_for(
    name: str, environment: Environment | str, base_domain: str = DEFAULT_BASE_DOMAIN
) -> str:
    """The public hostname of a service (reference 1.3); prod has no environment label."""
    env = Environment(environment)
    if env is Environment.PROD:
        return f"{name}.{base_domain}"
    return f"{name}.{env.value}.{base_domain}"


def namespace_for(name: str, environment: Environment | str) -> str:
    """The namespace a service lives in for one environment: ``{name}-{env}``."""
    return f"{name}-{Environment(environment).value}"


def cluster_url_for(name: str, environment: Environment | str, *, port: int = 3000) -> str:
    """The in-cluster address of a service (reference 1.3)."""
    return f"http://{name}.{namespace_for(name, environment)}.svc.cluster.local:{port}"


def env_var_name(service: str, suffix: str = "") -> str:
    """The environment-variable stem for a service (reference 2.5.3).

    ``env_var_name("iec-wallet")`` is ``IEC_WALLET``; with ``suffix="URL"`` it
    is ``IEC_WALLET_URL``, the variable a dependency's address is injected as.
    """
    stem = service.upper().replace("-", "_").replace(".", "_")
    return f"{stem}_{suffix}" if suffix else stem


# --- CRD generation -------------------------------------------------------------------------

_DROPPED_KEYS = {"title", "additionalProperties", "$defs", "propertyNames", "patternProperties"}


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    """Turn pydantic's JSON schema into a Kubernetes structural schema.

    Kubernetes wants every node typed and inlined: no ``$ref``, no ``anyOf``
    with ``null`` (an absent field is how we say "none"), no
    ``additionalProperties: false`` (the API server prunes unknown fields).
    """
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _structural(merged, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(options) == 1:
            return _structural({**options[0], **rest}, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS or (key == "default" and value is None):
            continue
        if key == "const":
            out["enum"] = [value]
            continue
        if key == "properties":
            out[key] = {name: _structural(sub, defs) for name, sub in value.items()}
        elif key == "items":
            out[key] = _structural(value, defs)
        else:
            out[key] = value
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _structural(node["additionalProperties"], defs)
    elif isinstance(node.get("patternProperties"), dict) and len(node["patternProperties"]) == 1:
        # A map with constrained keys: Kubernetes can only type its values.
        (values,) = node["patternProperties"].values()
        out["additionalProperties"] = _structural(values, defs)
    if "properties" in out:
        out.setdefault("type", "object")
    return out


def _schema_of(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="serialization")
    result: dict[str, Any] = _structural(raw, raw.get("$defs", {}))
    return result


def crd_manifest() -> dict[str, Any]:
    """The CustomResourceDefinition for ``TawaService``, generated from the models."""
    spec_schema = _schema_of(TawaServiceSpec)
    status_schema = _schema_of(TawaServiceStatus)
    # One condition per type, so server-side apply merges them by type.
    status_schema["properties"]["conditions"].update(
        {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}
    )
    schema = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    columns = [
        ("Environment", "string", ".spec.environment"),
        ("Tier", "string", ".spec.tier"),
        ("Phase", "string", ".status.phase"),
        ("URL", "string", ".status.url"),
        ("Age", "date", ".metadata.creationTimestamp"),
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "plural": PLURAL,
                "singular": SINGULAR,
                "listKind": f"{KIND}List",
                "shortNames": [SHORT_NAME],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": name, "type": kind, "jsonPath": path}
                        for name, kind, path in columns
                    ],
                }
            ],
        },
    }


def crd_yaml() -> str:
    """The CRD as YAML text, exactly as ``make crds`` writes it."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True  # shared enum lists would otherwise print as &id001 anchors

    header = "# Generated by `make crds` from tawa/resource.py. Do not edit by hand.\n"
    body = yaml.dump(crd_manifest(), Dumper=_Dumper, sort_keys=False, width=100)
    return header + body


if __name__ == "__main__":
    sys.stdout.write(crd_yaml())
