"""Every corpus file goes through preflight: accepted, or refused with positions.

Golden files pin the exact report (and, when accepted, the rendered resource)
for a selection. Regenerate them with ``TAWA_UPDATE_GOLDEN=1 pytest tests/catalog``
and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tawa.catalog import CatalogError, Severity, parse_catalog, read_catalog, render_service
from tawa.cli.main import app
from tests.catalog.conftest import CORPUS, GOLDEN, corpus_files

GOLDEN_SELECTION = [
    "01-component-flow-style-missing-lifecycle.yaml",
    "04-library-header-comments-uppercase-name.yml",
    "07-quoted-name-jenkins-comment-in-annotations.yaml",
    "08-crlf-multidoc-inline-openapi-trailing-separator.yaml",
    "09-tab-indented-user-profile-invalid.yaml",
    "10-missing-doc-separator-duplicate-keys.yaml",
    "11-unknown-kind-misspelled-name-key.yaml",
    "12-partial-entity-no-spec.yaml",
    "13-nunjucks-skeleton-invalid.yaml",
    "16-exported-entities-uid-etag-tracked-deps.yaml",
    "19-website-lighthouse-jira-cross-namespace-refs.yaml",
    "33-double-quoted-annotation-key.yaml",
    "35-cookiecutter-braces-invalid.yaml",
    "37-tab-inside-block-scalar.yaml",
    "40-template-bad-indentation-empty-owner.yaml",
]
DEMO_ACCEPTED = [
    "01-component-flow-style-missing-lifecycle.yaml",
    "19-website-lighthouse-jira-cross-namespace-refs.yaml",
    "33-double-quoted-annotation-key.yaml",
    "37-tab-inside-block-scalar.yaml",
]
LOCATED = re.compile(r"^  (?P<file>\S+?):(?P<line>\d+):(?P<column>\d+): ")

runner = CliRunner()


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name[:2])
def test_preflight_converts_or_refuses_with_positions(path: Path):
    refusal: CatalogError | None = None
    try:
        catalog = read_catalog(path)
    except CatalogError as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.errors, "a refusal carries at least one error"
        for problem in refusal.problems:
            assert problem.source == str(path)
            assert problem.line >= 1
            assert problem.column >= 1
            assert problem.message
        return
    assert catalog.components
    for component in catalog.components:
        render_service(component, environment="sandbox", image="registry.example/x:1")


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name[:2])
def test_cli_exits_0_or_1_and_names_file_line_and_field(path: Path):
    result = runner.invoke(app, ["preflight", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    problem_lines = [line for line in result.output.splitlines() if line.startswith("  ")]
    if result.exit_code == 1:
        assert problem_lines
    for line in problem_lines:
        match = LOCATED.match(line)
        assert match, line
        assert match["file"] == str(path)


@pytest.mark.parametrize("name", DEMO_ACCEPTED)
def test_demo_corpus_files_are_accepted(name: str):
    catalog = read_catalog(CORPUS / name)
    (component,) = catalog.components
    assert component.framework_is_assumed
    assert any(w.code == "catalog-framework-missing" for w in catalog.warnings)


def _report(name: str) -> str:
    text = (CORPUS / name).read_bytes().decode("utf-8-sig")
    try:
        catalog = parse_catalog(text, source=name)
    except CatalogError as exc:
        lines = [f"refused: {len(exc.errors)} errors, {len(exc.warnings)} warnings"]
        lines += [f"{p.severity.value}: {p}" for p in exc.problems]
        return "\n".join(lines) + "\n"
    lines = [f"accepted: {len(catalog.components)} components, {len(catalog.warnings)} warnings"]
    lines += [f"{Severity.WARNING.value}: {p}" for p in catalog.warnings]
    for component in catalog.components[:3]:
        service = render_service(component, environment="uat", image="registry.example/app:1")
        lines.append("---")
        lines.append(yaml.safe_dump(service.manifest(), sort_keys=False).rstrip())
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", GOLDEN_SELECTION, ids=lambda n: n[:2])
def test_golden_reports(name: str):
    golden = GOLDEN / (Path(name).stem + ".txt")
    actual = _report(name)
    if os.environ.get("TAWA_UPDATE_GOLDEN"):
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; run with TAWA_UPDATE_GOLDEN=1"
    assert actual == golden.read_text(encoding="utf-8")
