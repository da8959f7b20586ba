"""The platform chart (charts/tawa): lint, render, schema checks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "tawa"
HELM = os.environ.get("TAWA_HELM") or str(ROOT / ".tools" / "bin" / "helm")
REQUIRED = ["--set", "internalKey.existingSecret=tawa-internal"]


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HELM, *args], capture_output=True, text=True, check=check)


def render(*extra: str) -> list[dict]:
    out = helm("template", "tawa", str(CHART), "--namespace", "tawa-system", *REQUIRED, *extra)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_lint_passes() -> None:
    result = helm("lint", str(CHART), "--strict", *REQUIRED, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_component_is_rendered_with_probes_and_hardening() -> None:
    deployments = by_kind(render(), "Deployment")
    for component in ("operator", "registry", "gateway", "identity", "wallet"):
        deployment = deployments[f"tawa-{component}"]
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert "livenessProbe" in container
        assert container["args"][:3] == ["python", "-m", f"tawa.{component}"]


def test_gateway_scales_with_an_hpa_and_drops_fixed_replicas() -> None:
    docs = render()
    assert "tawa-gateway" in by_kind(docs, "HorizontalPodAutoscaler")
    assert "replicas" not in by_kind(docs, "Deployment")["tawa-gateway"]["spec"]
    docs = render("--set", "gateway.autoscaling.enabled=false")
    assert not by_kind(docs, "HorizontalPodAutoscaler")
    assert by_kind(docs, "Deployment")["tawa-gateway"]["spec"]["replicas"] == 2


def test_operator_rbac_is_least_privilege() -> None:
    role = by_kind(render(), "ClusterRole")["tawa-operator"]
    for rule in role["rules"]:
        assert "*" not in rule["verbs"]
        assert "*" not in rule["resources"]
        assert "*" not in rule["apiGroups"]
    crd_rule = next(r for r in role["rules"] if "customresourcedefinitions" in r["resources"])
    assert set(crd_rule["verbs"]) == {"get", "list", "watch"}


def test_external_datastores_come_from_existing_secrets() -> None:
    docs = render(
        "--set", "mongodb.bundled=false", "--set", "mongodb.existingSecret=mongo",
        "--set", "redis.bundled=false", "--set", "redis.existingSecret=redis",
    )  # fmt: skip
    assert "tawa-mongodb" not in by_kind(docs, "StatefulSet")
    env = by_kind(docs, "Deployment")["tawa-wallet"]["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    mongo = next(e for e in env if e["name"] == "TAWA_MONGODB_URI")
    assert mongo["valueFrom"]["secretKeyRef"] == {"name": "mongo", "key": "uri"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], "internalKey.existingSecret is required"),
        ([*REQUIRED, "--set", "mongodb.bundled=false"], "mongodb.existingSecret is required"),
        ([*REQUIRED, "--set", "gateway.replicas=-1"], "gateway.replicas"),
        ([*REQUIRED, "--set", "logLevel=LOUD"], "logLevel"),
    ],
)
def test_bad_values_fail_early_and_name_the_value(values: list[str], expected: str) -> None:
    result = helm("template", "tawa", str(CHART), *values, check=False)
    assert result.returncode != 0
    assert expected in result.stderr


def test_rendered_manifests_validate_against_kubernetes_schemas(tmp_path: Path) -> None:
    import kubernetes_validate

    for doc in render():
        if doc["apiVersion"].startswith("kopf.dev"):
            continue
        kubernetes_validate.validate(doc, "1.30.0", strict=True)


def test_crds_in_chart_match_the_generated_ones() -> None:
    generated = ROOT / "crds" / "tawaservices.yaml"
    packaged = CHART / "crds" / "tawaservices.yaml"
    assert packaged.read_text() == generated.read_text(), "run `make crds`"
