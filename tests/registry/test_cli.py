"""``tawa config``, ``tawa domain`` and ``tawa scopes`` against the running registry,
in a folder holding a catalog-info.yaml."""

from __future__ import annotations

import os
import stat

import pytest
from typer.testing import CliRunner

from tawa.cli.config import quote, write_env_file
from tawa.cli.main import app
from tests.registry.conftest import service_body

pytestmark = pytest.mark.integration

CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  annotations:
    insureco.io/framework: fastapi
spec:
  type: service
  lifecycle: production
  owner: acme
"""


@pytest.fixture
def service(tmp_path, monkeypatch, registry, unique) -> str:
    name = unique("cli")
    (tmp_path / "catalog-info.yaml").write_text(CATALOG.format(name=name))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAWA_REGISTRY_URL", registry.url)
    monkeypatch.setenv("TAWA_INTERNAL_KEY", registry.internal_key)
    return name


def tawa(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_config_set_list_get_unset(service, api) -> None:
    out = tawa("config", "set", "API_TOKEN=t0ps3cret", "GREETING=hello world")
    assert "Set API_TOKEN, GREETING" in out
    assert "t0ps3cret" not in out
    assert api.get(f"/v1/config/sandbox/{service}").json()["values"] == {
        "API_TOKEN": "t0ps3cret",
        "GREETING": "hello world",
    }
    assert "API_TOKEN=********" in tawa("config", "list")
    assert "API_TOKEN=t0ps3cret" in tawa("config", "list", "--show")
    assert tawa("config", "get", "GREETING") == "hello world\n"
    tawa("config", "unset", "GREETING")
    tawa("config", "get", "GREETING", code=1)
    assert "No config values" in tawa("config", "list", "--env", "prod")


def test_config_set_refuses_what_is_not_key_value(service) -> None:
    tawa("config", "set", "NOVALUE", code=2)
    tawa("config", "set", "1BAD=x", code=2)


def test_config_pull_writes_env_local_keeping_other_lines(service, tmp_path) -> None:
    tawa("config", "set", "API_TOKEN=new", "DB_NAME=quotes", "NOTE=it's $5")
    env_file = tmp_path / ".env.local"
    env_file.write_text("# local only\nAPI_TOKEN=old\nLOCAL_FLAG=1\nexport DB_NAME=x\n")

    tawa("config", "pull")
    assert env_file.read_text() == (
        '# local only\nAPI_TOKEN=new\nLOCAL_FLAG=1\nDB_NAME=quotes\nNOTE="it\'s \\$5"\n'
    )
    assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600


def test_env_file_writer_drops_shadowing_duplicates(tmp_path) -> None:
    path = tmp_path / ".env"
    path.write_text("A=1\nB=2\nA=3\n")
    write_env_file(path, {"A": "9"})
    assert path.read_text() == "A=9\nB=2\n"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("", ""),
        ("a b", '"a b"'),
        ('q"x', '"q\\"x"'),
        ("l1\nl2", '"l1\\nl2"'),
        ("a\rB=1", '"a\\rB=1"'),
    ],
)
def test_env_values_are_quoted_when_needed(value, written) -> None:
    assert quote(value) == written


def test_domain_add_list_remove(service) -> None:
    domain = f"{service}.example.org"
    assert f"Bound {domain}" in tawa("domain", "add", domain)
    assert tawa("domain", "list") == domain + "\n"
    tawa("domain", "add", domain, "--service", "someone-else", code=1)
    tawa("domain", "add", "not_a_domain", code=1)
    assert "Unbound" in tawa("domain", "remove", domain)
    tawa("domain", "remove", domain, code=1)


def test_scopes_request_approve_list(service, api, unique) -> None:
    owner = unique("owner")
    scopes = [{"resource": "mongodb", "allowedConsumers": [{"service": service}]}]
    body = service_body(owner="other-org", metadata={"scopes": scopes})
    api.put(f"/v1/services/sandbox/{owner}", json=body)

    out = tawa(
        "scopes", "request", "--from", owner, "--resource", "mongodb", "--access", "readOnly"
    )
    assert "pending" in out
    grant_id = f"sandbox.{owner}.{service}.mongodb"
    assert f"tawa scopes approve {grant_id}" in out
    assert "approved" in tawa("scopes", "approve", grant_id)
    assert grant_id in tawa("scopes", "list")
    tawa("scopes", "request", "--from", owner, "--resource", "redis", code=1)


def test_without_a_catalog_the_service_must_be_named(tmp_path, monkeypatch, registry) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAWA_REGISTRY_URL", registry.url)
    result = CliRunner().invoke(app, ["config", "list"])
    assert result.exit_code == 2
    assert "--service" in result.output


def test_an_unreachable_registry_is_said_plainly(service, monkeypatch) -> None:
    monkeypatch.setenv("TAWA_REGISTRY_URL", "http://127.0.0.1:9")
    assert "could not be reached" in tawa("config", "list", code=1)


def test_a_refusal_names_the_field_the_registry_named(service) -> None:
    # The registry's 422 says which field is wrong only in details.problems.
    output = tawa("domain", "add", "evil..com", code=1)
    assert "domain:" in output
    assert "'evil..com'" in output


def test_a_key_or_service_that_is_a_path_is_refused(service, api, unique) -> None:
    # `tawa config unset ../victim` deleted every config value of service victim.
    victim = unique("victim")
    assert api.put(f"/v1/config/sandbox/{victim}", json={"values": {"A": "1"}}).status_code == 200

    assert "is not a config key" in tawa("config", "unset", f"../{victim}", code=2)
    assert "is not a service name" in tawa("config", "list", "--service", "../x", code=2)

    assert api.get(f"/v1/config/sandbox/{victim}").json()["values"] == {"A": "1"}
