"""Hostile catalogs and options: refused at preflight, not halfway through a deploy.

Each case here once passed ``tawa preflight`` (and ``render``) and was only
refused later: by the registry at the registration step, after the databases,
OAuth client and Helm release were made, or by the node pulling the image.
"""

from __future__ import annotations

import pytest

from tawa.catalog import CatalogError, parse_catalog, render_service
from tests.catalog.test_parser import catalog, refusal


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("routes:\n  - path: /x\n    gas: true\n", "valid integer, not true"),
        ("routes:\n  - path: /x\n    gas: 1000001\n", "less than or equal to 1000000"),
        ("routes:\n  - path: /x\n    gas: 99999999999999999999999999\n", "1000000"),
    ],
)
def test_gas_is_a_whole_number_the_registry_takes(spec: str, words: str):
    (error,) = refusal(catalog(spec=spec)).errors
    assert error.field == "spec.routes[0].gas"
    assert words in error.message


@pytest.mark.parametrize(
    "path", ["/api/../etc", "/api/./x", "/API/x", "/api//x", "/api/x.", "/a%2fb", "/api/*", "/é"]
)
def test_route_paths_the_registry_refuses_are_refused_here(path: str):
    (error,) = refusal(catalog(spec=f"routes:\n  - path: '{path}'\n")).errors
    assert error.field == "spec.routes[0].path"
    assert repr(path) in error.message


@pytest.mark.parametrize("path", ["/", "/api/x/", "/.well-known/x", "/a~b_c-d.e/f"])
def test_route_paths_the_registry_takes_still_pass(path: str):
    parse_catalog(catalog(spec=f"routes:\n  - path: '{path}'\n"))


@pytest.mark.parametrize("image", ["bad image;rm", "X:1", "a:b:c", "$(id)", "a\nb", "img:"])
def test_a_bad_image_option_is_a_problem_naming_it(image: str):
    component = parse_catalog(catalog()).component()
    with pytest.raises(CatalogError) as caught:
        render_service(component, environment="sandbox", image=image)

    (error,) = caught.value.errors
    assert error.field == "image"
    assert "--image" in error.message
    assert repr(image) in error.message


@pytest.mark.parametrize(
    "image", ["x:1", "ghcr.io/acme/api:1.2.0", "localhost:5000/a/b", "alpine@sha256:" + "a" * 64]
)
def test_image_references_pass(image: str):
    component = parse_catalog(catalog()).component()
    assert render_service(component, environment="sandbox", image=image).spec.image == image


@pytest.mark.parametrize("key", ["bad key", "1ST", "A-B", "x" * 129])
def test_config_keys_must_be_environment_variable_names(key: str):
    # The operator refused these only at its links step, after the databases
    # and the OAuth client were made.
    (error,) = refusal(catalog(spec=f"config:\n  '{key}': v\n")).errors
    assert error.field.startswith("spec.config")
    assert key in error.field
    assert "is not an environment variable name" in error.message


@pytest.mark.parametrize("hostname", ["a b;rm", "EVIL.example", "a..b", "-a.example"])
def test_a_hostname_that_is_no_dns_name_is_refused(hostname: str):
    component = parse_catalog(catalog()).component()
    with pytest.raises(CatalogError) as caught:
        render_service(component, environment="sandbox", base_domain=hostname)

    (error,) = caught.value.errors
    assert error.field == "hostname"


@pytest.mark.parametrize("name", [None, "my-svc"])
def test_two_components_with_one_name_are_refused(name: str | None):
    # Preflight said both were "ready to deploy"; --name could not choose either.
    text = catalog() + "---\n" + catalog()
    (error,) = refusal(text, name=name).errors
    assert error.field == "metadata.name"
    assert "'my-svc' is already the name of the Component" in error.message


@pytest.mark.parametrize("namespace", ["A;B", "../x", "x" * 64])
def test_a_bad_namespace_option_is_a_problem_naming_it(namespace: str):
    component = parse_catalog(catalog()).component()
    with pytest.raises(CatalogError) as caught:
        render_service(component, environment="sandbox", image="x:1", namespace=namespace)

    (error,) = caught.value.errors
    assert "--namespace must be a DNS label" in error.message
