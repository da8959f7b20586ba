"""Random and mutated YAML: the parser refuses with CatalogError, never anything else."""

from __future__ import annotations

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tawa.catalog import CatalogError, parse_catalog, render_service
from tests.catalog.conftest import CORPUS, example_catalogs

SEEDS = [p.read_text(encoding="utf-8") for p in example_catalogs()] + [
    (CORPUS / name).read_bytes().decode("utf-8")
    for name in (
        "01-component-flow-style-missing-lifecycle.yaml",
        "10-missing-doc-separator-duplicate-keys.yaml",
        "33-double-quoted-annotation-key.yaml",
    )
]
FRAGMENTS = [
    "\n",
    " ",
    "  ",
    "\t",
    ":",
    "- ",
    "---\n",
    "[",
    "]",
    "{",
    "}",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "'",
    '"',
    "#",
    "|",
    ">",
    "~",
    "null",
    "0x1F",
    "1e9",
    "-1",
    "routes:",
    "gas: ",
    "auth: ",
    "kind: Component\n",
    "insureco.io/framework: worker",
    "\r\n",
    "\x00",
    "\ud800",
    "é",
]

SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def parse_never_crashes(text: str) -> None:
    refusal: CatalogError | None = None
    try:
        catalog = parse_catalog(text, source="fuzz.yaml")
    except CatalogError as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.errors
        return
    for component in catalog.components:
        with contextlib.suppress(CatalogError):
            render_service(component, environment="uat", image="x:1")


@SETTINGS
@given(st.text(max_size=300))
def test_random_text(text: str):
    parse_never_crashes(text)


@SETTINGS
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 20), st.sampled_from(FRAGMENTS)), max_size=6
    ),
)
def test_mutated_catalogs(seed: str, edits):
    text = seed
    for where, cut, fragment in edits:
        at = int(where * len(text))
        text = text[:at] + fragment + text[at + cut :]
    parse_never_crashes(text)


@SETTINGS
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    ),
)
def test_random_structures_in_the_spec(value):
    text = (
        "kind: Component\nmetadata:\n  name: svc\n  annotations:\n"
        '    insureco.io/framework: express\n    insureco.io/catalog-version: "0.5.0"\n'
        f"spec:\n  owner: acme\n  routes: {json.dumps(value)}\n  auth: {json.dumps(value)}\n"
        f"  databases: {json.dumps(value)}\n  tests: {json.dumps(value)}\n"
    )
    parse_never_crashes(text)
