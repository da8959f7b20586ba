"""Smoke tests run by the real operator against a local HTTP stand-in.

The stand-in answers for each service's cluster address (``TAWA_UPSTREAM_MAP``);
the back-off base is 10 ms so the reference's five retries take no time.
"""

from __future__ import annotations

import pytest
from kubernetes.config import kube_config
from typer.testing import CliRunner

from tawa.cli.main import app
from tests.builder.conftest import eventually, namespace, service_body

pytestmark = pytest.mark.integration


def smoke(*paths, expect=200):
    return {"smoke": [{"path": path, "expect": expect} for path in paths]}


def test_passing_smoke_tests_make_the_service_ready(builder_platform, services):
    stand_in, operator_log = builder_platform
    stand_in.answers.update({"/smoke-ok/health": 200, "/smoke-ok/ping": 204})
    services.create(
        service_body(
            "smoke-ok",
            image="example/ok:1",
            catalogVersion="0.5.0",
            tests={
                "smoke": [
                    {"path": "/smoke-ok/health", "expect": 200},
                    {"path": "/smoke-ok/ping", "expect": 204},
                    {"path": "/smoke-ok/absent", "expect": 404},
                ]
            },
        )
    )
    eventually(
        lambda: services.status("smoke-ok").get("phase") == "Ready",
        what=f"Ready ({operator_log})",
    )
    tested = services.condition("smoke-ok", "SmokeTested")
    assert tested["status"] == "True"
    assert tested["message"] == "All 3 smoke tests passed on revision 1."
    assert services.status("smoke-ok")["lastGoodRevision"] == 1
    assert "/smoke-ok/absent" in stand_in.requests


def test_failing_smoke_tests_keep_the_release_for_debugging(builder_platform, services):
    stand_in, operator_log = builder_platform
    stand_in.answers["/smoke-bad/health"] = 500
    services.create(
        service_body("smoke-bad", image="example/bad:1", tests=smoke("/smoke-bad/health"))
    )
    eventually(
        lambda: services.status("smoke-bad").get("phase") == "Failed",
        what=f"Failed ({operator_log})",
    )
    tested = services.condition("smoke-bad", "SmokeTested")
    assert tested["status"] == "False"
    assert "GET /smoke-bad/health answered 500, expected 200 (6 tries)" in tested["message"]
    assert "kept running for debugging" in tested["message"]
    # One try and the reference's five retries; the release stays.
    assert stand_in.requests.count("/smoke-bad/health") == 6
    assert services.deployment_image("smoke-bad") == "example/bad:1"
    assert "lastGoodRevision" not in services.status("smoke-bad")


def test_rollback_on_failure_returns_to_the_last_good_revision(
    builder_platform, services, localkube, monkeypatch
):
    stand_in, operator_log = builder_platform
    stand_in.answers["/smoke-back/health"] = 200
    services.create(
        service_body(
            "smoke-back",
            image="example/back:1",
            rollback="onFailure",
            tests=smoke("/smoke-back/health"),
        )
    )
    eventually(
        lambda: services.status("smoke-back").get("phase") == "Ready",
        what=f"the first release ({operator_log})",
    )
    assert services.status("smoke-back")["lastGoodRevision"] == 1

    # Version 2 fails its smoke test: the release goes back to revision 1.
    stand_in.answers["/smoke-back/health"] = 503
    services.patch_spec("smoke-back", {"image": "example/back:2"})
    eventually(
        lambda: services.status("smoke-back").get("phase") == "Failed",
        what=f"the failed second release ({operator_log})",
    )
    tested = services.condition("smoke-back", "SmokeTested")
    assert "failed on revision 2" in tested["message"]
    assert "Rolled back to revision 1" in tested["message"]
    assert services.deployment_image("smoke-back") == "example/back:1"
    revisions = services.core.list_namespaced_secret(
        namespace("smoke-back"), label_selector="owner=helm,name=smoke-back"
    ).items
    assert sorted(int(s.metadata.labels["version"]) for s in revisions) == [1, 2, 3]
    assert services.status("smoke-back")["lastGoodRevision"] == 1
    assert services.status("smoke-back")["helmRevision"] == 3

    # `tawa rollback` pins the good image in the spec: revision 3 (the automatic
    # rollback) already runs it, so nothing is released again; it passes and
    # becomes the last good revision.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(localkube.kubeconfig))
    stand_in.answers["/smoke-back/health"] = 200
    result = CliRunner().invoke(app, ["rollback", "smoke-back"])
    assert result.exit_code == 0, result.output
    assert "back to revision 1 (example/back:1)" in result.output
    eventually(
        lambda: services.status("smoke-back").get("lastGoodRevision") == 3,
        what=f"the pinned release passing ({operator_log})",
    )
    assert services.status("smoke-back")["phase"] == "Ready"
    assert services.deployment_image("smoke-back") == "example/back:1"
