"""The TawaService models, their helpers and the CRD generated from them."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tawa.catalog import read_catalog, render_service
from tawa.resource import (
    ConditionStatus,
    ConditionType,
    TawaService,
    TawaServiceStatus,
    crd_manifest,
    crd_yaml,
    env_var_name,
    hostname_for,
    namespace_for,
)
from tests.catalog.conftest import GOLDEN, ROOT, example_catalogs

CRD_FILES = [
    ROOT / "crds" / "tawaservices.yaml",
    ROOT / "charts" / "tawa" / "crds" / "tawaservices.yaml",
]


@pytest.mark.parametrize("path", CRD_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_checked_in_crd_is_what_make_crds_generates(path: Path):
    assert path.read_text(encoding="utf-8") == crd_yaml(), "run `make crds` and commit"


def test_the_crd_is_a_valid_kubernetes_object():
    kubernetes_validate.validate(yaml.safe_load(crd_yaml()), "1.30", strict=True)


def _nodes(schema: dict, path: str = ""):
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _nodes(sub, f"{path}.{name}")
    if "items" in schema:
        yield from _nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}{{}}")


def test_the_schema_is_structural():
    schema = crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _nodes(schema):
        assert "type" in node, path
        assert not {"$ref", "anyOf", "oneOf", "allOf", "$defs", "title"} & node.keys(), path
        assert not ("properties" in node and "additionalProperties" in node), path
        if "default" in node:
            jsonschema.validate(node["default"], node)


def test_the_crd_carries_names_columns_and_the_status_subresource():
    spec = crd_manifest()["spec"]
    (version,) = spec["versions"]
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["shortNames"] == ["tsvc"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns == ["Environment", "Tier", "Phase", "URL", "Age"]
    properties = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert properties["environment"]["enum"] == ["sandbox", "uat", "prod"]
    assert properties["deletionPolicy"]["default"] == "Retain"
    assert "pattern" in properties["name"]


@pytest.mark.parametrize("path", example_catalogs(), ids=lambda p: p.parent.name)
@pytest.mark.parametrize("environment", ["sandbox", "uat", "prod"])
def test_every_example_renders_to_an_object_the_crd_accepts(path: Path, environment: str):
    schema = crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    catalog = read_catalog(path)
    assert catalog.warnings == []
    service = render_service(catalog.component(), environment=environment)
    manifest = service.manifest()
    jsonschema.validate(manifest, schema)
    assert TawaService.model_validate(manifest) == service


def test_example_renders_what_the_catalog_says():
    (component,) = read_catalog(ROOT / "examples" / "quote-api").components
    spec = render_service(component, environment="uat").spec
    assert spec.hostname == "quote-api.uat.tawa.insureco.io"
    first = spec.routes[0]
    assert (first.path, first.gas, first.auth.value) == ("/api/quote-api/quotes", 2, "required")
    assert [d.type.value for d in spec.databases] == ["mongodb", "mongodb", "redis"]
    assert spec.internal_dependencies[0].port == 8473
    assert spec.scopes[0].allowed_consumers[0].access.value == "readOnly"


@pytest.mark.parametrize(
    ("environment", "hostname"),
    [
        ("sandbox", "svc.sandbox.tawa.insureco.io"),
        ("uat", "svc.uat.tawa.insureco.io"),
        ("prod", "svc.tawa.insureco.io"),
    ],
)
def test_hostnames(environment: str, hostname: str):
    assert hostname_for("svc", environment) == hostname
    assert namespace_for("svc", environment) == f"svc-{environment}"


def test_hostnames_on_another_base_domain():
    assert hostname_for("svc", "uat", base_domain="example.test") == "svc.uat.example.test"


@pytest.mark.parametrize(
    ("service", "suffix", "name"),
    [
        ("septor", "URL", "SEPTOR_URL"),
        ("iec-wallet", "URL", "IEC_WALLET_URL"),
        ("shared-data-svc", "MONGODB_URI", "SHARED_DATA_SVC_MONGODB_URI"),
        ("docman", "", "DOCMAN"),
    ],
)
def test_env_var_names(service: str, suffix: str, name: str):
    assert env_var_name(service, suffix) == name


def test_a_condition_moves_its_transition_time_only_when_its_status_changes():
    status = TawaServiceStatus()
    first = datetime(2026, 1, 1, tzinfo=UTC)
    later = datetime(2026, 1, 2, tzinfo=UTC)
    status.set_condition(
        ConditionType.READY, ConditionStatus.FALSE, reason="Provisioning", now=first
    )
    status.set_condition(
        ConditionType.READY, ConditionStatus.FALSE, reason="StillWaiting", now=later
    )
    assert status.condition(ConditionType.READY).last_transition_time == first
    assert status.condition(ConditionType.READY).reason == "StillWaiting"
    status.set_condition(ConditionType.READY, ConditionStatus.TRUE, reason="Ready", now=later)
    assert status.condition(ConditionType.READY).last_transition_time == later
    dumped = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["conditions"][0]["lastTransitionTime"] == "2026-01-02T00:00:00Z"


def test_status_tolerates_keys_it_does_not_know():
    status = TawaServiceStatus.model_validate({"phase": "Ready", "kopf": {"progress": {}}})
    assert status.phase.value == "Ready"


@pytest.mark.parametrize("path", example_catalogs(), ids=lambda p: p.parent.name)
def test_examples_render_as_their_golden_files(path: Path):
    (component,) = read_catalog(path).components
    service = render_service(component, environment="sandbox")
    actual = yaml.safe_dump(service.manifest(), sort_keys=False)
    golden = GOLDEN / f"example-{path.parent.name}.sandbox.yaml"
    if os.environ.get("TAWA_UPDATE_GOLDEN"):
        golden.write_text(actual, encoding="utf-8")
    assert actual == golden.read_text(encoding="utf-8")
