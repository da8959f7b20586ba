"""``tawa preflight`` and ``tawa render`` as a user runs them."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from tawa.cli.main import app
from tests.catalog.conftest import CORPUS, EXAMPLES

runner = CliRunner()


def test_preflight_accepts_a_valid_catalog():
    result = runner.invoke(app, ["preflight", str(EXAMPLES / "quote-api")])
    assert result.exit_code == 0, result.output
    assert "quote-api ready to deploy (0 warnings)" in result.output


def test_preflight_lists_every_error_then_the_warnings(write_catalog):
    path = write_catalog(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: Bad_Name\n"
        "spec:\n  type: service\n  owner: acme\n  databases:\n    - type: postgres\n"
        "  colour: blue\n"
    )
    result = runner.invoke(app, ["preflight", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "2 errors:"
    assert lines[1].startswith(f"  {path}:4:9: metadata.name: 'Bad_Name' is not a DNS label")
    assert lines[2].startswith(f"  {path}:9:13: spec.databases[0].type: must be one of")
    assert lines[3] == "3 warnings:"
    assert "spec.colour: unknown field" in result.output
    assert lines[-1] == "✗ refused: 2 errors, 3 warnings"


def test_preflight_json_report(write_catalog):
    path = write_catalog("kind: System\nmetadata:\n  name: x\n")
    result = runner.invoke(app, ["preflight", str(path), "-o", "json"])
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["valid"] is False
    assert body["problems"][0]["code"] == "catalog-file"


@pytest.mark.parametrize(
    "args",
    [
        ["preflight", "/no/such/catalog.yaml"],
        ["render", "--env", "staging"],
        ["preflight", "--bogus"],
    ],
)
def test_usage_errors_exit_2(args):
    assert runner.invoke(app, args).exit_code == 2


def test_preflight_name_picks_one_component():
    path = CORPUS / "16-exported-entities-uid-etag-tracked-deps.yaml"
    result = runner.invoke(app, ["preflight", str(path), "--name", "example-website"])
    assert result.exit_code in (0, 1)
    result = runner.invoke(app, ["preflight", str(path), "--name", "no-such-thing"])
    assert result.exit_code == 1
    assert "no entity named 'no-such-thing'" in result.output


def test_render_prints_the_resource_as_yaml():
    result = runner.invoke(app, ["render", str(EXAMPLES / "hello-fastapi"), "--env", "prod"])
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(result.stdout)
    assert manifest["kind"] == "TawaService"
    assert manifest["metadata"]["namespace"] == "hello-fastapi-prod"
    assert manifest["spec"]["hostname"] == "hello-fastapi.tawa.insureco.io"
    assert manifest["spec"]["port"] == 8000
    assert [r["auth"] for r in manifest["spec"]["routes"]] == ["none", "required"]


def test_render_json_with_namespace_image_and_base_domain(monkeypatch):
    monkeypatch.setenv("TAWA_BASE_DOMAIN", "example.test")
    args = ["render", str(EXAMPLES / "reporting-worker"), "-e", "uat", "-o", "json"]
    args += ["--namespace", "reports", "--image", "registry.example/reporting-worker:abc123"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["metadata"]["namespace"] == "reports"
    assert manifest["spec"]["image"] == "registry.example/reporting-worker:abc123"
    assert manifest["spec"]["hostname"] == "reporting-worker.uat.example.test"
    assert "healthPath" not in manifest["spec"]


def test_render_of_a_corpus_component_needs_an_image():
    path = str(CORPUS / "33-double-quoted-annotation-key.yaml")
    refused = runner.invoke(app, ["render", path])
    assert refused.exit_code == 1
    assert "pass --image IMAGE" in refused.output
    result = runner.invoke(app, ["render", path, "--image", "registry.example/hello:1"])
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)["spec"]["image"] == "registry.example/hello:1"


def test_render_asks_which_component_when_there_are_several():
    path = str(CORPUS / "28-very-large-1000-generated-components.yaml")
    result = runner.invoke(app, ["render", path, "--image", "x:1"])
    assert result.exit_code == 1
    assert "choose one with --name: generated-component-1, " in result.output
    result = runner.invoke(
        app, ["render", path, "--image", "x:1", "--name", "generated-component-7"]
    )
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)["metadata"]["name"] == "generated-component-7"
