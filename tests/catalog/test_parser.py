"""Catalog rules: defaults, versions, unknown fields, selection, messages."""

from __future__ import annotations

import textwrap

import pytest

from tawa.catalog import CatalogError, parse_catalog, render_service
from tawa.resource import Framework


def catalog(
    annotations: str = 'insureco.io/framework: express\ninsureco.io/catalog-version: "0.5.0"\n'
    "insureco.io/health-endpoint: /health",
    spec: str = "",
    name: str = "my-svc",
    owner: str = "acme",
) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n"
        f"  name: {name}\n  annotations:\n{textwrap.indent(annotations, '    ')}\n"
        f"spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
        + textwrap.indent(textwrap.dedent(spec), "  ")
    )


def refusal(text: str, **kwargs) -> CatalogError:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, **kwargs)
    return caught.value


def codes(problems) -> set[tuple[str, str]]:
    return {(p.code, p.field) for p in problems}


@pytest.mark.parametrize(
    ("framework", "port", "health"),
    [
        ("express", 3000, "/health"),
        ("nextjs", 3000, "/api/health"),
        ("static", 80, "/health"),
        ("worker", 3000, None),
        ("fastapi", 8000, "/health"),
        ("flask", 8000, "/health"),
        ("django", 8000, "/health"),
    ],
)
def test_framework_defaults(framework: str, port: int, health: str | None):
    text = catalog(annotations=f"insureco.io/framework: {framework}")
    (component,) = parse_catalog(text).components
    assert component.spec["framework"] == framework
    assert component.spec["port"] == port
    assert component.spec.get("healthPath") == health


def test_annotations_override_framework_defaults():
    text = catalog(
        annotations='insureco.io/framework: fastapi\ninsureco.io/port: "9000"\n'
        "insureco.io/health-endpoint: /ready\ninsureco.io/pod-tier: large"
    )
    spec = parse_catalog(text).components[0].spec
    assert (spec["port"], spec["healthPath"], spec["tier"]) == (9000, "/ready", "large")


@pytest.mark.parametrize(
    ("version", "spec", "expected"),
    [
        (
            "0.2.0",
            "",
            {
                (
                    "catalog-health-endpoint-required",
                    'metadata.annotations["insureco.io/health-endpoint"]',
                )
            },
        ),
        (
            "0.4.0",
            "dependencies:\n  - service: relay\n    scopes: []\n",
            {
                ("catalog-dependencies-empty-scopes", "spec.dependencies[0].scopes"),
                (
                    "catalog-health-endpoint-required",
                    'metadata.annotations["insureco.io/health-endpoint"]',
                ),
            },
        ),
    ],
)
def test_version_rules_that_refuse(version: str, spec: str, expected):
    text = catalog(
        annotations=f'insureco.io/framework: express\ninsureco.io/catalog-version: "{version}"',
        spec=spec,
    )
    assert codes(refusal(text).errors) == expected


def test_owner_unknown_is_refused():
    error = refusal(catalog(owner="unknown"))
    assert codes(error.errors) == {("catalog-owner-unknown", "spec.owner")}


def test_gateway_transport_warns_that_no_url_is_injected():
    text = catalog(
        spec="dependencies:\n  - service: relay\n    transport: gateway\n    scopes: [relay:send]\n"
    )
    result = parse_catalog(text)
    assert ("catalog-dependencies-gateway-no-url", "spec.dependencies[0].transport") in codes(
        result.warnings
    )


@pytest.mark.parametrize(
    ("version", "key", "kept"),
    [
        ("0.4.0", "tests", False),
        ("0.5.0", "tests", True),
        ("0.3.0", "dependencies", False),
        ("0.4.0", "dependencies", True),
    ],
)
def test_fields_newer_than_the_catalog_version_are_ignored_with_a_warning(version, key, kept):
    spec = {
        "tests": "tests:\n  smoke:\n    - path: /health\n      expect: 200\n",
        "dependencies": "dependencies:\n  - service: relay\n    scopes: [relay:send]\n",
    }[key]
    text = catalog(
        annotations=f'insureco.io/framework: express\ninsureco.io/catalog-version: "{version}"\n'
        "insureco.io/health-endpoint: /health",
        spec=spec,
    )
    result = parse_catalog(text)
    assert bool(result.components[0].spec.get(key)) is kept
    assert any(w.code == f"catalog-{key}-needs-version" for w in result.warnings) is not kept


def test_an_unversioned_catalog_needs_no_health_endpoint():
    (component,) = parse_catalog(catalog(annotations="insureco.io/framework: hono")).components
    assert component.spec["healthPath"] == "/health"


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ("rutes: []\n", "spec.rutes", "did you mean 'routes'?"),
        (
            "routes:\n  - path: /a\n    methdos: [GET]\n",
            "spec.routes[0].methdos",
            "did you mean 'methods'?",
        ),
        ("auth:\n  mode: sso\n  pasport: {}\n", "spec.auth.pasport", "did you mean 'passport'?"),
    ],
)
def test_unknown_fields_warn_with_the_closest_name(spec: str, field: str, words: str):
    result = parse_catalog(catalog(spec=spec))
    (warning,) = [w for w in result.warnings if w.field == field]
    assert words in warning.message


def test_unknown_tawa_annotation_suggests_the_known_one():
    text = catalog(annotations="insureco.io/framework: express\ninsureco.io/pod-teir: small")
    (warning,) = parse_catalog(text).warnings
    assert "did you mean 'insureco.io/pod-tier'?" in warning.message


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (
            "databases:\n  - type: postgres\n",
            "spec.databases[0].type",
            "must be one of mongodb, redis, neo4j, not 'postgres'",
        ),
        ("routes:\n  - path: api/x\n", "spec.routes[0].path", "starting with '/'"),
        ("routes:\n  - path: /x\n    gas: -1\n", "spec.routes[0].gas", "not -1"),
        (
            "routes:\n  - path: /x\n    auth: requird\n",
            "spec.routes[0].auth",
            "did you mean 'required'?",
        ),
        (
            "routes:\n  - path: /x\n  - path: /x\n    methods: [GET]\n",
            "spec.routes[1].path",
            "already declared by route 0",
        ),
        (
            "internalDependencies:\n  - service: Septor\n",
            "spec.internalDependencies[0].service",
            "e.g. 'septor'",
        ),
        ("databases:\n  - type: redis\n  - type: redis\n", "spec.databases[1]", "declared twice"),
        ("config:\n  TOKEN: [secret-value]\n", "spec.config.TOKEN", "not the value"),
    ],
)
def test_bad_values_name_the_field_and_show_the_value(spec: str, field: str, words: str):
    (error,) = refusal(catalog(spec=spec)).errors
    assert error.field == field
    assert words in error.message
    assert "secret-value" not in error.message


def test_all_problems_are_reported_at_once_with_positions():
    text = catalog(
        name="My_Svc",
        spec="routes:\n  - path: x\n    gas: lots\ndatabases:\n  - type: mysql\n",
    )
    error = refusal(text, source="c.yaml")
    assert [(p.line, p.field) for p in error.errors] == [
        (4, "metadata.name"),
        (14, "spec.routes[0].path"),
        (15, "spec.routes[0].gas"),
        (17, "spec.databases[0].type"),
    ]
    assert str(error.errors[0]).startswith("c.yaml:4:9: metadata.name: 'My_Svc' is not a DNS label")


def test_worker_with_routes_is_refused():
    text = catalog(annotations="insureco.io/framework: worker", spec="routes:\n  - path: /x\n")
    assert codes(refusal(text).errors) == {("catalog-worker-routes", "spec.routes")}


@pytest.mark.parametrize("kind", ["library", "go-library"])
def test_libraries_are_not_deployable(kind: str):
    text = catalog().replace("type: service", f"type: {kind}")
    assert codes(refusal(text).errors) == {("catalog-not-deployable", "spec.type")}


def test_backstage_owner_references_become_the_org_slug():
    result = parse_catalog(catalog(owner="group:default/team-a"))
    assert result.components[0].spec["owner"] == "team-a"
    assert [w.code for w in result.warnings] == ["catalog-owner-reference"]


def test_missing_framework_is_assumed_and_render_needs_an_image():
    result = parse_catalog(catalog(annotations="example.com/x: y"))
    (component,) = result.components
    assert component.framework_is_assumed
    assert component.spec["framework"] == Framework.EXPRESS
    with pytest.raises(CatalogError, match="pass --image"):
        render_service(component, environment="sandbox")
    service = render_service(component, environment="prod", image="registry.example/my-svc:1")
    assert service.spec.image == "registry.example/my-svc:1"
    assert service.spec.hostname == "my-svc.tawa.insureco.io"
    assert service.metadata.namespace == "my-svc-prod"


MULTI = (
    catalog(name="api")
    + "---\n"
    + catalog(name="web")
    + "---\napiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: shop\n"
)


def test_every_component_is_checked_and_render_asks_for_a_name():
    result = parse_catalog(MULTI)
    assert [c.name for c in result.components] == ["api", "web"]
    with pytest.raises(CatalogError, match="choose one with --name: api, web"):
        result.component()
    assert result.component("web").name == "web"


def test_name_selects_one_component_and_refuses_other_kinds():
    assert [c.name for c in parse_catalog(MULTI, name="web").components] == ["web"]
    assert "is a System, not a Component" in refusal(MULTI, name="shop").errors[0].message
    assert "no entity named 'nope'" in refusal(MULTI, name="nope").errors[0].message


def test_a_file_without_components_names_the_kinds_it_has():
    text = "apiVersion: backstage.io/v1alpha1\nkind: Compnent\nmetadata:\n  name: x\n"
    (error,) = refusal(text).errors
    assert "it has Compnent" in error.message
    assert "did you mean 'Component'?" in error.message


def test_an_empty_file_is_refused():
    assert "no Component" in refusal("# nothing here\n").errors[0].message


def test_files_that_are_not_utf8_or_missing_are_refused(tmp_path):
    from tawa.catalog import read_catalog

    path = tmp_path / "catalog-info.yaml"
    path.write_bytes(b"kind: Component\nname: \xff\xfe\n")
    with pytest.raises(CatalogError, match="not UTF-8"):
        read_catalog(path)
    with pytest.raises(CatalogError, match="cannot read the file"):
        read_catalog(tmp_path / "nothing-here")


def test_a_folder_means_its_catalog_info_file(tmp_path):
    from tawa.catalog import read_catalog

    (tmp_path / "catalog-info.yml").write_text(catalog(), encoding="utf-8")
    assert read_catalog(tmp_path).components[0].name == "my-svc"


def test_rules_across_fields_still_run_when_a_backstage_rule_failed():
    text = catalog(annotations="insureco.io/framework: worker", spec="routes:\n  - path: /x\n")
    text = text.replace("type: service", "type: library")
    assert {p.code for p in refusal(text).errors} == {
        "catalog-not-deployable",
        "catalog-worker-routes",
    }


def test_unpublished_shared_database_keys_are_reported_and_ignored():
    result = parse_catalog(catalog(spec="consumesDatabase: {from: x}\n"))
    assert [w.code for w in result.warnings] == ["catalog-unsupported-field"]
