"""The service chart (charts/tawa-service): lint, render, Kubernetes schemas.

Values are the ones the operator's release step computes, so what is checked
here is what a TawaService really gets.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tawa.operator.settings import OperatorSettings
from tawa.operator.step import StepContext
from tawa.operator.steps.release import desired_values
from tawa.resource import TawaServiceSpec
from tawa.tiers import TIERS, Tier

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "tawa-service"
HELM = os.environ.get("TAWA_HELM") or str(ROOT / ".tools" / "bin" / "helm")
K8S_VERSION = kubernetes_validate.utils.latest_version()


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HELM, *args], capture_output=True, text=True, check=check)


def operator_values(tmp_path: Path, **spec: object) -> Path:
    """The values file the release step would hand to helm for this spec."""
    fields = {"name": "my-api", "owner": "acme", "environment": "sandbox",
              "framework": "express", "image": "ghcr.io/acme/my-api:1.0", **spec}  # fmt: skip
    parsed = TawaServiceSpec.model_validate(fields)
    ctx = StepContext(
        name=parsed.name, namespace="my-api-sandbox", environment=parsed.environment.value,
        spec=parsed, uid="u", generation=1, settings=None, logger=logging.getLogger("t"),
        env={"PORT": str(parsed.port), "APP_URL": "https://x", "FEATURE": "on"},
        secret_refs=["my-api-db-mongodb", "my-api-oauth"],
    )  # fmt: skip
    settings = OperatorSettings(helm=HELM, ingress_enabled=True)
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(desired_values(ctx, settings)))
    return path


def render(values: Path, *extra: str) -> dict[str, dict]:
    out = helm("template", "my-api", str(CHART), "--namespace", "my-api-sandbox",
               "--values", str(values), *extra).stdout  # fmt: skip
    return {doc["kind"]: doc for doc in yaml.safe_load_all(out) if doc}


def container(docs: dict[str, dict]) -> dict:
    return docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]


def test_lint_is_clean(tmp_path) -> None:
    result = helm("lint", str(CHART), "--strict", "--values", str(operator_values(tmp_path)),
                  check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "extra",
    [
        (),
        ("--set", "autoscaling.enabled=true"),
        ("--set", "ingress.tls.enabled=false", "--set", "image.digest=sha256:" + "b" * 64),
    ],
)
def test_every_rendered_object_is_valid_kubernetes(tmp_path, extra) -> None:
    docs = render(operator_values(tmp_path, healthPath="/health"), *extra)
    assert {"Deployment", "Service", "Ingress"} <= set(docs)
    for doc in docs.values():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("tier", list(Tier))
def test_the_tier_sets_requests_and_limits(tmp_path, tier) -> None:
    resources = container(render(operator_values(tmp_path, tier=tier.value)))["resources"]
    spec = TIERS[tier]
    assert resources["requests"] == {"cpu": spec.cpu_request, "memory": spec.memory}
    assert resources["limits"] == {"cpu": spec.cpu, "memory": spec.memory}


def test_the_health_path_gives_both_probes_and_a_worker_gets_none(tmp_path) -> None:
    web = container(render(operator_values(tmp_path, port=8000, healthPath="/api/health")))
    for probe in ("livenessProbe", "readinessProbe"):
        assert web[probe]["httpGet"] == {"path": "/api/health", "port": "http"}
    assert web["ports"][0]["containerPort"] == 8000
    worker = container(render(operator_values(tmp_path, framework="worker")))
    assert "livenessProbe" not in worker
    assert "readinessProbe" not in worker


def test_env_comes_from_values_and_secrets(tmp_path) -> None:
    main = container(render(operator_values(tmp_path, port=8000)))
    env = {e["name"]: e["value"] for e in main["env"]}
    assert env == {"PORT": "8000", "APP_URL": "https://x", "FEATURE": "on"}
    assert [s["secretRef"]["name"] for s in main["envFrom"]] == [
        "my-api-db-mongodb",
        "my-api-oauth",
    ]


def test_the_pod_is_hardened(tmp_path) -> None:
    docs = render(operator_values(tmp_path))
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = container(docs)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]


def test_names_and_selectors_make_the_cluster_address(tmp_path) -> None:
    docs = render(operator_values(tmp_path))
    assert docs["Service"]["metadata"]["name"] == "my-api"
    assert docs["Service"]["spec"]["selector"] == {
        "app.kubernetes.io/name": "my-api",
        "app.kubernetes.io/instance": "my-api",
    }
    labels = docs["Deployment"]["metadata"]["labels"]
    assert labels["tawa.insureco.io/tier"] == "nano"
    assert labels["app.kubernetes.io/version"] == "1.0"


@pytest.mark.parametrize(
    ("override", "words"),
    [
        (("--set", "image.repository="), "image.repository is empty"),
        (("--set", "port=0"), "port"),
        (("--set", "env.bad-name=x"), "env"),
        (("--set", "service.tier=huge"), "tier"),
    ],
)
def test_bad_values_are_refused_with_a_message_naming_them(tmp_path, override, words) -> None:
    result = helm("template", "my-api", str(CHART), "--values", str(operator_values(tmp_path)),
                  *override, check=False)  # fmt: skip
    assert result.returncode != 0
    assert words in result.stderr
