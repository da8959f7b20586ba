"""Fixtures of the local Kubernetes API suite: a client, a test CRD, a fresh
namespace per test. The server itself is the session fixture ``localkube``."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


def kubectl(kube, *args: str, stdin: str | None = None, check: bool = True):
    return subprocess.run(
        ["kubectl", *args],
        input=stdin,
        env=kube.env,
        capture_output=True,
        text=True,
        check=check,
        timeout=30,
    )


@pytest.fixture(scope="session")
def api(localkube) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(localkube.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture(scope="session")
def widgets(localkube) -> str:
    """The ``widgets.example.com`` CRD, applied with the real kubectl."""
    kubectl(localkube, "apply", "-f", "-", stdin=CRD)
    return "widgets.example.com"


@pytest.fixture
def namespace(api) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
