"""The real Helm 3 against the local API: install, upgrade, history, values,
uninstall of a throwaway chart (release Secrets travel as protobuf)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.localkube.conftest import kubectl

pytestmark = pytest.mark.integration

HELM = os.environ.get("TAWA_HELM") or str(Path(__file__).parents[2] / ".tools" / "bin" / "helm")

TEMPLATES = {
    "Chart.yaml": "apiVersion: v2\nname: tiny\nversion: 0.1.0\n",
    "values.yaml": "message: hello\nreplicas: 1\n",
    "templates/config.yaml": """
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  message: {{ .Values.message | quote }}
""",
    "templates/deployment.yaml": """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
        - name: app
          image: registry.example/app:1
          env: [{name: MESSAGE, value: {{ .Values.message | quote }}}]
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{port: 80, targetPort: 8080}]
""",
}


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    for name, text in TEMPLATES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def helm(kube, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HELM, *args], env=kube.env, capture_output=True, text=True, check=True, timeout=60
    )


def test_install_upgrade_history_and_uninstall(localkube, chart, namespace):
    target = f"{namespace}-app"

    wait = ("--wait", "--timeout", "20s")  # rollouts complete at once (controllers.py)
    helm(localkube, "install", "shop", str(chart), "-n", target, "--create-namespace", *wait)
    helm(
        localkube,
        "upgrade",
        "shop",
        str(chart),
        "-n",
        target,
        "--set",
        "message=bye,replicas=2",
        *wait,
    )
    history = json.loads(helm(localkube, "history", "shop", "-n", target, "-o", "json").stdout)
    values = helm(localkube, "get", "values", "shop", "-n", target, "-o", "json").stdout
    deployment = json.loads(
        kubectl(localkube, "get", "deploy", "shop", "-n", target, "-o", "json").stdout
    )
    release_secrets = kubectl(
        localkube, "get", "secrets", "-n", target, "-l", "owner=helm", "-o", "name"
    )

    assert [(h["revision"], h["status"]) for h in history] == [(1, "superseded"), (2, "deployed")]
    assert json.loads(values) == {"message": "bye", "replicas": 2}
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "MESSAGE", "value": "bye"}
    ]
    assert len(release_secrets.stdout.split()) == 2

    helm(localkube, "uninstall", "shop", "-n", target, "--wait")
    left = kubectl(localkube, "get", "deploy,rs,svc,cm,secrets", "-n", target, "-o", "name")
    assert left.stdout == ""
