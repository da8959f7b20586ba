"""The release step's pure parts: chart values, image references, drift checks."""

from __future__ import annotations

import kopf
import pytest

from tawa.operator.steps.release import deployment_drifted, desired_values, split_image
from tawa.tiers import TIERS
from tests.operator.fakes import make_context


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("nginx", {"repository": "nginx", "tag": "latest", "digest": ""}),
        ("ghcr.io/a/b:1.2", {"repository": "ghcr.io/a/b", "tag": "1.2", "digest": ""}),
        ("localhost:5000/b", {"repository": "localhost:5000/b", "tag": "latest", "digest": ""}),
        ("localhost:5000/b:v1", {"repository": "localhost:5000/b", "tag": "v1", "digest": ""}),
        (
            "ghcr.io/a/b@sha256:" + "a" * 64,
            {"repository": "ghcr.io/a/b", "tag": "latest", "digest": "sha256:" + "a" * 64},
        ),
    ],
)
def test_split_image(reference, expected) -> None:
    assert split_image(reference) == expected


@pytest.mark.parametrize("tier", list(TIERS))
def test_the_tier_becomes_requests_and_limits(settings, tier) -> None:
    values = desired_values(make_context(settings, tier=tier.value), settings)
    spec = TIERS[tier]
    assert values["resources"] == {
        "requests": {"cpu": spec.cpu_request, "memory": spec.memory},
        "limits": {"cpu": spec.cpu, "memory": spec.memory},
    }
    assert values["service"]["tier"] == tier.value


def test_env_secrets_and_probes_reach_the_values(settings) -> None:
    ctx = make_context(settings, healthPath=None, framework="worker")
    ctx.env.update(PORT="3000", B="2", A="1")
    ctx.secret_refs += ["my-api-db-redis", "my-api-db-mongodb", "my-api-db-redis"]
    values = desired_values(ctx, settings)
    assert values["env"] == {"A": "1", "B": "2"}  # PORT comes from `port`
    assert values["envFromSecrets"] == ["my-api-db-mongodb", "my-api-db-redis"]
    assert values["healthPath"] == ""
    assert values["ingress"]["host"] == "my-api.sandbox.tawa.insureco.io"


def test_no_image_is_the_users_to_fix(settings) -> None:
    with pytest.raises(kopf.PermanentError, match=r"spec\.image"):
        desired_values(make_context(settings, image=None), settings)


def _deployment(image: str, resources: dict) -> dict:
    container = {"name": "my-api", "image": image, "resources": resources}
    return {"spec": {"template": {"spec": {"containers": [container]}}}}


def test_deployment_drift(settings) -> None:
    values = desired_values(make_context(settings), settings)
    good = _deployment("ghcr.io/acme/my-api:1.2.3", values["resources"])
    assert deployment_drifted(good, values) is None
    assert "missing" in deployment_drifted(None, values)
    assert "image" in deployment_drifted(_deployment("evil:1", values["resources"]), values)
    edited = _deployment("ghcr.io/acme/my-api:1.2.3", {"limits": {"cpu": "8"}})
    assert "resources" in deployment_drifted(edited, values)
